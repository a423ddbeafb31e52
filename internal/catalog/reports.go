package catalog

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/mattn/go-sqlite3"

	"github.com/backupd/backupd/internal/domain"
)

// ReportResult is what became of one report handed to CreateReports.
type ReportResult struct {
	// Backup is the stored record: the new one, or the one stored earlier
	// under the same webhook id.
	Backup domain.Backup
	// Created is false when the webhook id was already in the catalog (a
	// redelivery); nothing new was written then.
	Created bool
	// Err is set when this report alone could not be stored (a constraint
	// failed); the other reports of the batch are committed regardless.
	Err error
}

// CreateReports stores backup-completion reports received by webhook, each
// with a report.received event, in ONE transaction: one fsync for the whole
// batch is what lets the intake keep up with many senders.
//
// A report that breaks a constraint fails alone: the transaction is rolled
// back, that report is answered with its Err, and the batch is stored again
// without it (constraint failures do not happen with reports the webhook
// parser built, so the retry is the rare path, and the common one needs no
// savepoint per report). A report whose WebhookID is already stored
// (earlier, or earlier in the same batch) is not written again: its result
// carries the existing row with Created false. The returned error is for the
// batch as a whole (begin, commit or I/O failed): then nothing was stored.
func (db *DB) CreateReports(ctx context.Context, reports []domain.Backup) ([]ReportResult, error) {
	results := make([]ReportResult, len(reports))
	for {
		err := db.update(ctx, func(tx *sql.Tx) (bool, error) {
			return insertReports(ctx, tx, reports, results)
		})
		var bad *badReport
		if errors.As(err, &bad) {
			results[bad.i] = ReportResult{Backup: reports[bad.i], Err: bad.err}
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("create reports: %w", err)
		}
		return results, nil
	}
}

// badReport says which report of a batch broke a constraint.
type badReport struct {
	i   int
	err error
}

func (e *badReport) Error() string { return fmt.Sprintf("report %d: %v", e.i, e.err) }

// insertReports stores every report not already marked failed in results,
// overwriting the results of an earlier, rolled-back try.
func insertReports(ctx context.Context, tx *sql.Tx, reports []domain.Backup, results []ReportResult) (bool, error) {
	// Prepared once per batch: preparing a statement costs about as much as
	// running it, and the intake's single writer is the bottleneck.
	ins, err := tx.PrepareContext(ctx, insertReportSQL)
	if err != nil {
		return false, fmt.Errorf("prepare insert report: %w", err)
	}
	defer ins.Close()
	ev, err := tx.PrepareContext(ctx, insertEventSQL)
	if err != nil {
		return false, fmt.Errorf("prepare insert event: %w", err)
	}
	defer ev.Close()
	created := false
	for i := range reports {
		if results[i].Err != nil {
			continue
		}
		res, err := insertReport(ctx, tx, ins, ev, reports[i])
		var se sqlite3.Error
		if errors.As(err, &se) && se.Code == sqlite3.ErrConstraint {
			return false, &badReport{i: i, err: err}
		}
		if err != nil {
			return false, err
		}
		results[i] = res
		created = created || res.Created
	}
	return created, nil
}

// ON CONFLICT covers the webhook id only: any other constraint (an unknown
// status, say) still fails.
const insertReportSQL = `INSERT INTO backups (source, kind, origin, status, created_at,
	started_at, finished_at, size_bytes, sha256, error, archive, webhook_id, sender_ip, received_at, message, raw)
	VALUES (?, ?, 'webhook', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (webhook_id) DO NOTHING`

const insertEventSQL = `INSERT INTO events (type, backup_id, source, time, data) VALUES (?, ?, ?, ?, ?)`

func insertReport(ctx context.Context, tx *sql.Tx, ins, ev *sql.Stmt, r domain.Backup) (ReportResult, error) {
	b := storedReport(r)
	var webhookID, raw any
	if b.WebhookID != "" {
		webhookID = b.WebhookID
	}
	if len(b.Raw) > 0 {
		raw = []byte(b.Raw)
	}
	res, err := ins.ExecContext(ctx, b.Source, b.Kind, string(b.Status), formatTime(b.CreatedAt), nullTime(b.StartedAt),
		nullTime(b.FinishedAt), b.SizeBytes, b.SHA256, b.Error, b.Archive, webhookID, b.SenderIP, nullTime(b.ReceivedAt),
		b.Message, raw)
	if err != nil {
		return ReportResult{}, fmt.Errorf("insert report: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		b, err := reportByWebhookID(ctx, tx, r.WebhookID)
		return ReportResult{Backup: b}, err
	}
	b.ID, _ = res.LastInsertId()
	// The event carries the backup as stored. appendBackupEvent would read
	// the row back; here every column was just written from b, so b is
	// that row (TestCreateReportsEventIsTheStoredRow holds this to it), and
	// skipping the read halves the writer's work per report.
	data, err := reportJSON(b)
	if err != nil {
		return ReportResult{}, fmt.Errorf("encode event: %w", err)
	}
	if _, err := ev.ExecContext(ctx, domain.EventReportReceived, b.ID, b.Source, formatTime(time.Now()), string(data)); err != nil {
		return ReportResult{}, fmt.Errorf("append event: %w", err)
	}
	return ReportResult{Backup: b, Created: true}, nil
}

// reportJSON is json.Marshal(b) for a report, which has nothing after raw
// (the drill fields are unset), with the raw body appended as it is when
// encoding/json would not change it: it would scan and copy it again, a
// tenth of the intake writer's work per report. The bytes are the same
// either way (FuzzReportJSON). b.Raw must be valid JSON, as the webhook
// parser makes sure.
func reportJSON(b domain.Backup) ([]byte, error) {
	raw := b.Raw
	if len(raw) == 0 || !marshalsAsIs(raw) || b.VerifiedAt != nil || b.VerifyStatus != "" || b.VerifyError != "" {
		return json.Marshal(b)
	}
	b.Raw = nil
	data, err := json.Marshal(b)
	if err != nil || len(data) < 2 {
		return data, err
	}
	data = append(data[:len(data)-1], `,"raw":`...)
	data = append(data, raw...)
	return append(data, '}'), nil
}

// marshalsAsIs reports whether encoding/json would write raw unchanged:
// it compacts whitespace and escapes <, >, & and U+2028/9 (0xE2 ...).
func marshalsAsIs(raw []byte) bool {
	for _, c := range raw {
		switch c {
		case ' ', '\t', '\r', '\n', '<', '>', '&', 0xe2:
			return false
		}
	}
	return true
}

// storedReport is r as the catalog stores and reads it back: origin
// webhook, times in UTC, the receive time defaulting to the creation time.
func storedReport(r domain.Backup) domain.Backup {
	utc := func(t *time.Time) *time.Time {
		if t == nil {
			return nil
		}
		u := t.UTC()
		return &u
	}
	b := domain.Backup{Source: r.Source, Kind: r.Kind, Origin: domain.OriginWebhook, Status: r.Status,
		CreatedAt: r.CreatedAt.UTC(), StartedAt: utc(r.StartedAt), FinishedAt: utc(r.FinishedAt),
		SizeBytes: r.SizeBytes, SHA256: r.SHA256, Error: r.Error, Archive: r.Archive, WebhookID: r.WebhookID,
		SenderIP: r.SenderIP, ReceivedAt: utc(r.ReceivedAt), Message: r.Message}
	if b.CreatedAt.IsZero() {
		b.CreatedAt = time.Now().UTC()
	}
	if b.ReceivedAt == nil {
		b.ReceivedAt = utc(&b.CreatedAt)
	}
	if len(r.Raw) > 0 {
		b.Raw = r.Raw
	}
	return b
}

func reportByWebhookID(ctx context.Context, q queryer, webhookID string) (domain.Backup, error) {
	b, err := scanBackup(q.QueryRowContext(ctx, `SELECT `+backupColumns+` FROM backups WHERE webhook_id = ?`, webhookID))
	if errors.Is(err, sql.ErrNoRows) {
		return b, domain.Errorf(domain.ENOTFOUND, "no report with webhook id %q", webhookID)
	}
	if err != nil {
		return b, fmt.Errorf("get report %q: %w", webhookID, err)
	}
	return b, nil
}

// ReportByWebhookID returns the record stored for a webhook id, or
// ENOTFOUND.
func (db *DB) ReportByWebhookID(ctx context.Context, webhookID string) (domain.Backup, error) {
	return reportByWebhookID(ctx, db.read, webhookID)
}
