package domain

import (
	"encoding/json"
	"regexp"
	"time"
)

// Status is where a backup is in its life.
type Status string

// The statuses a backup moves through. queued -> running -> one of the three
// final ones; a queued backup can also go straight to canceled.
const (
	StatusQueued    Status = "queued"
	StatusRunning   Status = "running"
	StatusSucceeded Status = "succeeded"
	StatusFailed    Status = "failed"
	StatusCanceled  Status = "canceled"
)

// Valid reports whether s is one of the known statuses.
func (s Status) Valid() bool {
	switch s {
	case StatusQueued, StatusRunning, StatusSucceeded, StatusFailed, StatusCanceled:
		return true
	}
	return false
}

// Final reports whether s is a status a backup never leaves.
func (s Status) Final() bool {
	return s == StatusSucceeded || s == StatusFailed || s == StatusCanceled
}

// Origin says who made a backup record.
type Origin string

// OriginLocal backups were run by this daemon; OriginWebhook records were
// reported by an outside engine through the inbound webhook.
const (
	OriginLocal   Origin = "local"
	OriginWebhook Origin = "webhook"
)

// ErrInterrupted is the error text of a backup that was running when the
// daemon stopped without finishing it.
const ErrInterrupted = "interrupted"

// Backup is one backup record in the catalog.
type Backup struct {
	ID         int64      `json:"id"`
	Source     string     `json:"source"`
	Kind       string     `json:"kind,omitempty"`
	Origin     Origin     `json:"origin"`
	Status     Status     `json:"status"`
	CreatedAt  time.Time  `json:"created_at"`
	StartedAt  *time.Time `json:"started_at,omitempty"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	// SizeBytes is, for a backup in the repository, its logical size
	// (LogicalBytes); for a tar.zst archive, the archive's size.
	SizeBytes int64 `json:"size_bytes"`
	// SHA256 is the SHA-256 of what a download sends: the archive, or for
	// a repository backup its export, once one has been built.
	SHA256 string `json:"sha256,omitempty"`
	// Snapshot is the repository snapshot id of a backup stored in the
	// repository; empty for a tar.zst archive.
	Snapshot string `json:"snapshot,omitempty"`
	// LogicalBytes is what the backup read from its source; AddedBytes is
	// what it added to the repository (packs, compressed, as stored). Both
	// are 0 for archives made before the repository.
	LogicalBytes int64 `json:"logical_bytes"`
	AddedBytes   int64 `json:"added_bytes"`
	// ExportBytes is the size of a repository backup's tar.zst export once
	// a download has built it (then SHA256 is its digest), else 0.
	ExportBytes int64  `json:"export_bytes,omitempty"`
	Error       string `json:"error,omitempty"`
	// BytesDone is the source bytes read so far while running; it is kept in
	// memory by the runner and merged in on read, never stored per tick.
	BytesDone int64 `json:"bytes_done,omitempty"`
	// Archive is the archive's name in storage (local backups), or the
	// location the sender reported (webhook records).
	Archive string `json:"archive,omitempty"`

	// Webhook records only.
	WebhookID  string          `json:"webhook_id,omitempty"`
	SenderIP   string          `json:"sender_ip,omitempty"`
	ReceivedAt *time.Time      `json:"received_at,omitempty"`
	Message    string          `json:"message,omitempty"`
	Raw        json.RawMessage `json:"raw,omitempty"`

	// Restore drill outcome (see the verify endpoint).
	VerifiedAt   *time.Time `json:"verified_at,omitempty"`
	VerifyStatus string     `json:"verify_status,omitempty"`
	VerifyError  string     `json:"verify_error,omitempty"`
}

// Finish is the outcome of a backup that ran.
type Finish struct {
	Status    Status // succeeded, failed or canceled
	SizeBytes int64
	SHA256    string
	Error     string
	// Repository backups: the snapshot and the byte counts.
	Snapshot     string
	LogicalBytes int64
	AddedBytes   int64
}

// DownloadSize is the size of what a download of b sends, 0 when unknown
// (a repository backup whose export has not been built yet).
func (b Backup) DownloadSize() int64 {
	if b.Snapshot != "" {
		return b.ExportBytes
	}
	return b.SizeBytes
}

// BackupFilter selects backups for listing, newest first.
type BackupFilter struct {
	Source string
	Status Status
	// Before, when non-zero, keeps only backups with an id below it: the
	// cursor for the next page.
	Before int64
	Limit  int
}

// Default and maximum page sizes for listings.
const (
	DefaultLimit = 50
	MaxLimit     = 1000
)

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// ValidName reports whether name can be a source name: 1 to 64 letters,
// digits, '_', '.', '-', not starting with a punctuation mark. Names end up
// in file names, so this is also what keeps them from traversing paths.
func ValidName(name string) bool {
	return nameRE.MatchString(name) && name != "." && name != ".."
}

// SourceInfo describes a configured source for listings.
type SourceInfo struct {
	Name     string `json:"name"`
	Kind     string `json:"kind"`
	Schedule string `json:"schedule,omitempty"`
	// NextRun is when the schedule next queues a backup.
	NextRun *time.Time `json:"next_run,omitempty"`
	// Retention is the source's keep rules, as configured ("keep: 7,
	// keep_daily: 14"), or "keep all".
	Retention string `json:"retention"`
	Verify    bool   `json:"verify,omitempty"`
	// Last is the newest local backup of the source, if any.
	Last *Backup `json:"last,omitempty"`
	// LastSuccess and LastFailure are the newest succeeded and the newest
	// failed backup of the source, run here or reported; nil if none.
	LastSuccess *Backup `json:"last_success"`
	LastFailure *Backup `json:"last_failure"`
	// Overdue is true for a scheduled source without a success for longer
	// than its schedule's interval plus a grace; OverdueSince is when that
	// became true. An unscheduled source is never overdue.
	Overdue      bool       `json:"overdue"`
	OverdueSince *time.Time `json:"overdue_since"`
	// History is the source's last finished backups, oldest first.
	History []HistoryPoint `json:"history"`
}

// HistoryLen is how many finished backups SourceInfo.History holds.
const HistoryLen = 30

// HistoryPoint is one finished backup in a source's history: what a trend
// chart of sizes and durations needs.
type HistoryPoint struct {
	ID         int64      `json:"id"`
	Status     Status     `json:"status"`
	FinishedAt *time.Time `json:"finished_at"`
	SizeBytes  int64      `json:"size_bytes"`
	// DurationSeconds is from start to finish; 0 for a backup that never
	// started (canceled while queued) or a report without a start time.
	DurationSeconds float64 `json:"duration_seconds"`
}

// SourceHealth is what the catalog knows of a source's recent outcomes.
type SourceHealth struct {
	LastSuccess *Backup
	LastFailure *Backup
	History     []HistoryPoint // oldest first
}

// Schedule is where a source's schedule stands: the tick at or before now,
// the next one, and since when the daemon has been running it.
type Schedule struct {
	Prev, Next time.Time
	Since      time.Time
}
