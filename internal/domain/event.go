package domain

import (
	"encoding/json"
	"slices"
	"time"
)

// Event types stored in the events outbox.
const (
	EventBackupQueued    = "backup.queued"
	EventBackupStarted   = "backup.started"
	EventBackupSucceeded = "backup.succeeded"
	EventBackupFailed    = "backup.failed"
	EventBackupCanceled  = "backup.canceled"
	EventBackupVerified  = "backup.verified"
	EventBackupExpired   = "backup.expired" // retention removed its archive
	EventReportReceived  = "report.received"
	EventRepoPruned      = "repo.pruned" // prune removed packs no snapshot needs
	// EventConfigReloaded says how a reload of the config (SIGHUP, or
	// POST /api/v1/admin/reload) went: data {ok, error, applied, restart_needed}.
	EventConfigReloaded = "config.reloaded"
)

// AllStoredEvents, as an outbound endpoint's event type, stands for every
// stored event type.
const AllStoredEvents = "*"

// IsStoredEventType reports whether typ names a stored event type, or is
// AllStoredEvents: what an outbound endpoint can subscribe to.
func IsStoredEventType(typ string) bool {
	switch typ {
	case EventBackupQueued, EventBackupStarted, EventBackupSucceeded, EventBackupFailed,
		EventBackupCanceled, EventBackupVerified, EventBackupExpired, EventReportReceived, EventRepoPruned, EventConfigReloaded, AllStoredEvents:
		return true
	}
	return false
}

// Ephemeral event types: sent live over the hub, never stored, id 0.
const (
	EventBackupProgress = "backup.progress"
	EventMessage        = "message"
)

// EventTypes lists every event type a client can filter on: the stored
// ones, then the ephemeral ones.
var EventTypes = []string{EventBackupQueued, EventBackupStarted, EventBackupSucceeded, EventBackupFailed,
	EventBackupCanceled, EventBackupVerified, EventBackupExpired, EventReportReceived, EventRepoPruned,
	EventConfigReloaded, EventBackupProgress, EventMessage}

// IsEventType reports whether typ is one of EventTypes.
func IsEventType(typ string) bool { return slices.Contains(EventTypes, typ) }

// Event is one row of the append-only events table. ID is the global,
// gap-free sequence number. Data is the backup as it was after the change.
type Event struct {
	ID       int64           `json:"id"`
	Type     string          `json:"type"`
	BackupID int64           `json:"backup_id,omitempty"`
	Source   string          `json:"source,omitempty"`
	Time     time.Time       `json:"time"`
	Data     json.RawMessage `json:"data,omitempty"`
	// Ephemeral is true for progress ticks and messages, which are not in
	// the catalog and cannot be replayed.
	Ephemeral bool `json:"ephemeral,omitempty"`
}

// EventTypeForStatus returns the event type recorded when a backup enters s.
func EventTypeForStatus(s Status) string {
	switch s {
	case StatusQueued:
		return EventBackupQueued
	case StatusRunning:
		return EventBackupStarted
	case StatusSucceeded:
		return EventBackupSucceeded
	case StatusFailed:
		return EventBackupFailed
	case StatusCanceled:
		return EventBackupCanceled
	}
	return ""
}

// ReloadResult is how a reload of the config went: what was applied, and
// which changed keys only a restart applies.
type ReloadResult struct {
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
	// Applied names what the new config changed and was applied: sources,
	// schedules, retention, auth.tokens, webhooks, shutdown_grace.
	Applied []string `json:"applied"`
	// RestartNeeded names the top-level keys that changed but only take
	// effect at the next start (listen, data_dir, storage, tls, ...).
	RestartNeeded []string `json:"restart_needed"`
}
