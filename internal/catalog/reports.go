package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

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
// Each report runs inside its own savepoint, so a report that breaks a
// constraint is rolled back alone and answered with its Err, while the rest
// of the batch commits. A report whose WebhookID is already stored (earlier,
// or earlier in the same batch) is not written again: its result carries the
// existing row with Created false. The returned error is for the batch as a
// whole (begin or commit failed): then nothing was stored.
func (db *DB) CreateReports(ctx context.Context, reports []domain.Backup) ([]ReportResult, error) {
	results := make([]ReportResult, len(reports))
	err := db.update(ctx, func(tx *sql.Tx) (bool, error) {
		created := false
		for i := range reports {
			res, err := createReport(ctx, tx, &reports[i])
			if err != nil {
				return false, err
			}
			results[i] = res
			created = created || res.Created
		}
		return created, nil
	})
	if err != nil {
		return nil, fmt.Errorf("create reports: %w", err)
	}
	return results, nil
}

// createReport stores one report inside a savepoint. A failure of the
// report itself is returned in the result; an error return means the
// transaction is unusable (the savepoint could not even be rolled back).
func createReport(ctx context.Context, tx *sql.Tx, r *domain.Backup) (ReportResult, error) {
	if _, err := tx.ExecContext(ctx, `SAVEPOINT report`); err != nil {
		return ReportResult{}, fmt.Errorf("savepoint: %w", err)
	}
	res, rerr := insertReport(ctx, tx, r)
	if rerr != nil {
		if _, err := tx.ExecContext(ctx, `ROLLBACK TO report`); err != nil {
			return ReportResult{}, fmt.Errorf("roll back report: %w", err)
		}
		res = ReportResult{Backup: *r, Err: rerr}
	}
	if _, err := tx.ExecContext(ctx, `RELEASE report`); err != nil {
		return ReportResult{}, fmt.Errorf("release savepoint: %w", err)
	}
	return res, nil
}

func insertReport(ctx context.Context, tx *sql.Tx, r *domain.Backup) (ReportResult, error) {
	var webhookID any
	if r.WebhookID != "" {
		webhookID = r.WebhookID
	}
	created := r.CreatedAt
	if created.IsZero() {
		created = time.Now()
	}
	received := r.ReceivedAt
	if received == nil {
		received = &created
	}
	var raw any
	if len(r.Raw) > 0 {
		raw = []byte(r.Raw)
	}
	// ON CONFLICT covers the webhook id only: any other constraint (an
	// unknown status, say) still fails, and fails this report alone.
	res, err := tx.ExecContext(ctx, `INSERT INTO backups (source, kind, origin, status, created_at,
		started_at, finished_at, size_bytes, sha256, error, archive, webhook_id, sender_ip, received_at, message, raw)
		VALUES (?, ?, 'webhook', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (webhook_id) DO NOTHING`,
		r.Source, r.Kind, string(r.Status), formatTime(created), nullTime(r.StartedAt), nullTime(r.FinishedAt),
		r.SizeBytes, r.SHA256, r.Error, r.Archive, webhookID, r.SenderIP, nullTime(received), r.Message, raw)
	if err != nil {
		return ReportResult{}, fmt.Errorf("insert report: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		b, err := reportByWebhookID(ctx, tx, r.WebhookID)
		return ReportResult{Backup: b}, err
	}
	id, _ := res.LastInsertId()
	b, err := appendBackupEvent(ctx, tx, id, domain.EventReportReceived)
	if err != nil {
		return ReportResult{}, err
	}
	return ReportResult{Backup: b, Created: true}, nil
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
