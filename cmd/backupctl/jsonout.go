package main

import (
	"encoding/json"
	"time"

	"github.com/backupd/backupd/internal/client"
	"github.com/backupd/backupd/internal/domain"
	"github.com/backupd/backupd/internal/webhook"
)

// What -o json prints. These are backupctl's own shapes, documented in
// docs/cli.md: every key is always there (an empty string, 0, false, [] or
// null when there is nothing to say), so that a script can read a key
// without first asking whether it exists. The REST API keeps its own
// shapes, which leave empty keys out.

// backupJSON is one backup (status, run, cancel, verify, and each item of
// list).
type backupJSON struct {
	ID           int64           `json:"id"`
	Source       string          `json:"source"`
	Kind         string          `json:"kind"`
	Origin       string          `json:"origin"`
	Status       string          `json:"status"`
	CreatedAt    time.Time       `json:"created_at"`
	StartedAt    *time.Time      `json:"started_at"`
	FinishedAt   *time.Time      `json:"finished_at"`
	SizeBytes    int64           `json:"size_bytes"`
	Snapshot     string          `json:"snapshot"`
	LogicalBytes int64           `json:"logical_bytes"`
	AddedBytes   int64           `json:"added_bytes"`
	ExportBytes  int64           `json:"export_bytes"`
	BytesDone    int64           `json:"bytes_done"`
	SHA256       string          `json:"sha256"`
	Error        string          `json:"error"`
	Archive      string          `json:"archive"`
	WebhookID    string          `json:"webhook_id"`
	SenderIP     string          `json:"sender_ip"`
	ReceivedAt   *time.Time      `json:"received_at"`
	Message      string          `json:"message"`
	Raw          json.RawMessage `json:"raw"`
	VerifiedAt   *time.Time      `json:"verified_at"`
	VerifyStatus string          `json:"verify_status"`
	VerifyError  string          `json:"verify_error"`
}

func toBackupJSON(b domain.Backup) backupJSON {
	return backupJSON{
		ID: b.ID, Source: b.Source, Kind: b.Kind, Origin: string(b.Origin), Status: string(b.Status),
		CreatedAt: b.CreatedAt, StartedAt: b.StartedAt, FinishedAt: b.FinishedAt,
		SizeBytes: b.SizeBytes, Snapshot: b.Snapshot, LogicalBytes: b.LogicalBytes, AddedBytes: b.AddedBytes, ExportBytes: b.ExportBytes,
		BytesDone: b.BytesDone, SHA256: b.SHA256, Error: b.Error, Archive: b.Archive,
		WebhookID: b.WebhookID, SenderIP: b.SenderIP, ReceivedAt: b.ReceivedAt, Message: b.Message, Raw: b.Raw,
		VerifiedAt: b.VerifiedAt, VerifyStatus: b.VerifyStatus, VerifyError: b.VerifyError,
	}
}

// listJSON is list's answer: a page of backups, and the --before of the
// next page (null on the last page).
type listJSON struct {
	Backups    []backupJSON `json:"backups"`
	NextBefore *int64       `json:"next_before"`
}

// mapAll returns f of each item of in, as a slice that is never nil: a
// list with nothing in it prints as [], not null.
func mapAll[T, U any](in []T, f func(T) U) []U {
	out := make([]U, 0, len(in))
	for _, v := range in {
		out = append(out, f(v))
	}
	return out
}

func toListJSON(list []domain.Backup, next int64) listJSON {
	out := listJSON{Backups: mapAll(list, toBackupJSON)}
	if next > 0 {
		out.NextBefore = &next
	}
	return out
}

// sourceJSON is one item of sources.
type sourceJSON struct {
	Name         string        `json:"name"`
	Kind         string        `json:"kind"`
	Schedule     string        `json:"schedule"`
	NextRun      *time.Time    `json:"next_run"`
	Retention    string        `json:"retention"`
	Verify       bool          `json:"verify"`
	Last         *backupJSON   `json:"last"`
	LastSuccess  *backupJSON   `json:"last_success"`
	LastFailure  *backupJSON   `json:"last_failure"`
	Overdue      bool          `json:"overdue"`
	OverdueSince *time.Time    `json:"overdue_since"`
	History      []historyJSON `json:"history"`
}

// historyJSON is one finished backup in a source's history.
type historyJSON struct {
	ID              int64      `json:"id"`
	Status          string     `json:"status"`
	FinishedAt      *time.Time `json:"finished_at"`
	SizeBytes       int64      `json:"size_bytes"`
	DurationSeconds float64    `json:"duration_seconds"`
}

func toSourcesJSON(list []domain.SourceInfo) []sourceJSON {
	out := make([]sourceJSON, 0, len(list))
	opt := func(b *domain.Backup) *backupJSON {
		if b == nil {
			return nil
		}
		j := toBackupJSON(*b)
		return &j
	}
	for _, s := range list {
		j := sourceJSON{Name: s.Name, Kind: s.Kind, Schedule: s.Schedule, NextRun: s.NextRun, Retention: s.Retention, Verify: s.Verify,
			Last: opt(s.Last), LastSuccess: opt(s.LastSuccess), LastFailure: opt(s.LastFailure),
			Overdue: s.Overdue, OverdueSince: s.OverdueSince, History: make([]historyJSON, 0, len(s.History))}
		for _, p := range s.History {
			j.History = append(j.History, historyJSON{ID: p.ID, Status: string(p.Status), FinishedAt: p.FinishedAt,
				SizeBytes: p.SizeBytes, DurationSeconds: p.DurationSeconds})
		}
		out = append(out, j)
	}
	return out
}

// endpointJSON is one outbound webhook endpoint (endpoints, endpoints
// enable).
type endpointJSON struct {
	ID             int64      `json:"id"`
	URL            string     `json:"url"`
	Events         []string   `json:"events"`
	Disabled       bool       `json:"disabled"`
	DisabledAt     *time.Time `json:"disabled_at"`
	DisabledReason string     `json:"disabled_reason"`
}

func toEndpointJSON(e webhook.EndpointStatus) endpointJSON {
	events := e.Events
	if events == nil {
		events = []string{}
	}
	return endpointJSON{ID: e.ID, URL: e.URL, Events: events, Disabled: e.DisabledAt != nil, DisabledAt: e.DisabledAt, DisabledReason: e.DisabledReason}
}

// syncJSON is what sync did, archive by archive.
type syncJSON struct {
	Dir        string         `json:"dir"`
	Items      []syncItemJSON `json:"items"`
	Downloaded int            `json:"downloaded"`
	Bytes      int64          `json:"downloaded_bytes"`
	Present    int            `json:"present"`
	Failed     int            `json:"failed"`
	Gone       int            `json:"gone"`
}

type syncItemJSON struct {
	BackupID int64  `json:"backup_id"`
	Source   string `json:"source"`
	Path     string `json:"path"`
	Size     int64  `json:"size_bytes"`
	SHA256   string `json:"sha256"`
	Action   string `json:"action"`
	Resumed  int64  `json:"resumed_bytes"`
	Error    string `json:"error"`
}

func toSyncJSON(r client.SyncResult) syncJSON {
	items := mapAll(r.Items, func(it client.SyncItem) syncItemJSON { return syncItemJSON(it) })
	return syncJSON{Dir: r.Dir, Items: items, Downloaded: r.Downloaded, Bytes: r.Bytes, Present: r.Present, Failed: r.Failed, Gone: r.Gone}
}

// healthJSON is health's answer when the server is healthy.
type healthJSON struct {
	Status  string            `json:"status"`
	Version string            `json:"version"`
	Checks  map[string]string `json:"checks"`
}

func toHealthJSON(h client.Health) healthJSON {
	checks := h.Checks
	if checks == nil {
		checks = map[string]string{}
	}
	return healthJSON{Status: h.Status, Version: h.Version, Checks: checks}
}

// eventJSON is one line of tail -o json.
type eventJSON struct {
	ID        int64           `json:"id"`
	Type      string          `json:"type"`
	BackupID  int64           `json:"backup_id"`
	Source    string          `json:"source"`
	Time      time.Time       `json:"time"`
	Data      json.RawMessage `json:"data"`
	Ephemeral bool            `json:"ephemeral"`
}

func toEventJSON(ev domain.Event) eventJSON {
	return eventJSON{ID: ev.ID, Type: ev.Type, BackupID: ev.BackupID, Source: ev.Source, Time: ev.Time, Data: ev.Data, Ephemeral: ev.Ephemeral}
}
