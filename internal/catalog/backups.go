package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/backupd/backupd/internal/domain"
)

const backupColumns = `id, source, kind, origin, status, created_at, started_at, finished_at,
	size_bytes, sha256, error, archive, webhook_id, sender_ip, received_at, message, raw,
	verified_at, verify_status, verify_error, snapshot, logical_bytes, added_bytes, export_bytes`

type scanner interface{ Scan(dest ...any) error }

func scanBackup(s scanner) (domain.Backup, error) {
	var (
		b                                     domain.Backup
		created                               string
		started, finished, received, verified sql.NullString
		webhookID                             sql.NullString
		raw                                   []byte
	)
	err := s.Scan(&b.ID, &b.Source, &b.Kind, &b.Origin, &b.Status, &created, &started, &finished,
		&b.SizeBytes, &b.SHA256, &b.Error, &b.Archive, &webhookID, &b.SenderIP, &received, &b.Message, &raw,
		&verified, &b.VerifyStatus, &b.VerifyError, &b.Snapshot, &b.LogicalBytes, &b.AddedBytes, &b.ExportBytes)
	if err != nil {
		return b, err
	}
	b.WebhookID = webhookID.String
	if len(raw) > 0 {
		b.Raw = domain.SafeJSON(raw)
	}
	if b.CreatedAt, err = parseTime(created); err != nil {
		return b, err
	}
	for _, p := range []struct {
		dst **time.Time
		src sql.NullString
	}{{&b.StartedAt, started}, {&b.FinishedAt, finished}, {&b.ReceivedAt, received}, {&b.VerifiedAt, verified}} {
		if *p.dst, err = scanTime(p.src); err != nil {
			return b, err
		}
	}
	return b, nil
}

// Backup returns the backup with the given id.
func (db *DB) Backup(ctx context.Context, id int64) (domain.Backup, error) {
	return getBackup(ctx, db.read, id)
}

type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func getBackup(ctx context.Context, q queryer, id int64) (domain.Backup, error) {
	b, err := scanBackup(q.QueryRowContext(ctx, `SELECT `+backupColumns+` FROM backups WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return b, domain.Errorf(domain.ENOTFOUND, "backup %d does not exist", id)
	}
	if err != nil {
		return b, fmt.Errorf("get backup %d: %w", id, err)
	}
	return b, nil
}

// Backups lists backups matching f, newest first.
func (db *DB) Backups(ctx context.Context, f domain.BackupFilter) ([]domain.Backup, error) {
	var where []string
	var args []any
	if f.Source != "" {
		where, args = append(where, "source = ?"), append(args, f.Source)
	}
	if f.Status != "" {
		where, args = append(where, "status = ?"), append(args, string(f.Status))
	}
	if f.Before > 0 {
		where, args = append(where, "id < ?"), append(args, f.Before)
	}
	q := `SELECT ` + backupColumns + ` FROM backups`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	limit := f.Limit
	if limit <= 0 || limit > domain.MaxLimit {
		limit = domain.DefaultLimit
	}
	q += " ORDER BY id DESC LIMIT ?"
	args = append(args, limit)
	rows, err := db.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list backups: %w", err)
	}
	defer rows.Close()
	out := []domain.Backup{}
	for rows.Next() {
		b, err := scanBackup(rows)
		if err != nil {
			return nil, fmt.Errorf("scan backup: %w", err)
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

// CreateBackup records a new local backup of source as queued, unless one
// of that source is already queued or running: then it returns ECONFLICT
// naming the active backup's id (in the error's "backup_id" member).
func (db *DB) CreateBackup(ctx context.Context, source, kind string) (domain.Backup, error) {
	var b domain.Backup
	err := db.update(ctx, func(tx *sql.Tx) (bool, error) {
		var active int64
		err := tx.QueryRowContext(ctx, `SELECT id FROM backups WHERE source = ? AND origin = 'local'
			AND status IN ('queued', 'running') ORDER BY id LIMIT 1`, source).Scan(&active)
		if err == nil {
			e := domain.Errorf(domain.ECONFLICT, "a backup of %s is already active (backup %d); wait for it or cancel it", source, active)
			e.Extra = map[string]any{"backup_id": active}
			return false, e
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return false, fmt.Errorf("check active backup: %w", err)
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO backups (source, kind, origin, status, created_at)
			VALUES (?, ?, 'local', 'queued', ?)`, source, kind, formatTime(time.Now()))
		if err != nil {
			return false, fmt.Errorf("insert backup: %w", err)
		}
		id, _ := res.LastInsertId()
		b, err = appendBackupEvent(ctx, tx, id, domain.EventBackupQueued)
		return true, err
	})
	return b, err
}

// StartBackup moves a queued backup to running and names its archive.
// It returns ECONFLICT if the backup is no longer queued (canceled meanwhile).
func (db *DB) StartBackup(ctx context.Context, id int64, archive string) (domain.Backup, error) {
	return db.transition(ctx, id, domain.StatusQueued, domain.StatusRunning,
		`status = 'running', started_at = ?, archive = ?`, formatTime(time.Now()), archive)
}

// FinishBackup records the end of a running backup.
func (db *DB) FinishBackup(ctx context.Context, id int64, f domain.Finish) (domain.Backup, error) {
	if !f.Status.Final() {
		return domain.Backup{}, fmt.Errorf("finish backup %d: %s is not a final status", id, f.Status)
	}
	archiveExpr := "archive"
	if f.Status != domain.StatusSucceeded {
		archiveExpr = "''" // nothing is kept of a backup that did not succeed
	}
	return db.transition(ctx, id, domain.StatusRunning, f.Status,
		`status = ?, finished_at = ?, size_bytes = ?, sha256 = ?, error = ?, snapshot = ?,
		logical_bytes = ?, added_bytes = ?, archive = `+archiveExpr,
		string(f.Status), formatTime(time.Now()), f.SizeBytes, f.SHA256, f.Error, f.Snapshot,
		f.LogicalBytes, f.AddedBytes)
}

// SetExport records the digest and size of the export built for a
// repository backup's download. A different digest than the one recorded
// (an export built again, encrypted with a fresh key) replaces it, and
// with it the ETag, so a resumed download starts over rather than mixing
// two files.
func (db *DB) SetExport(ctx context.Context, id int64, sha256 string, size int64) error {
	return db.update(ctx, func(tx *sql.Tx) (bool, error) {
		res, err := tx.ExecContext(ctx, `UPDATE backups SET sha256 = ?, export_bytes = ? WHERE id = ? AND snapshot != ''`, sha256, size, id)
		if err != nil {
			return false, fmt.Errorf("record export of backup %d: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return false, domain.Errorf(domain.ENOTFOUND, "backup %d is not in the repository", id)
		}
		return false, nil
	})
}

// CancelQueued cancels a backup that has not started yet.
func (db *DB) CancelQueued(ctx context.Context, id int64) (domain.Backup, error) {
	return db.transition(ctx, id, domain.StatusQueued, domain.StatusCanceled,
		`status = 'canceled', finished_at = ?, error = 'canceled before it started'`, formatTime(time.Now()))
}

// transition applies set to backup id if it is in status from, and records
// the event for status to, in one transaction.
func (db *DB) transition(ctx context.Context, id int64, from, to domain.Status, set string, args ...any) (domain.Backup, error) {
	var b domain.Backup
	err := db.update(ctx, func(tx *sql.Tx) (bool, error) {
		cur, err := getBackup(ctx, tx, id)
		if err != nil {
			return false, err
		}
		if cur.Status != from {
			return false, domain.Errorf(domain.ECONFLICT, "backup %d is %s, not %s", id, cur.Status, from)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE backups SET `+set+` WHERE id = ?`, append(args, id)...); err != nil {
			return false, fmt.Errorf("update backup %d: %w", id, err)
		}
		b, err = appendBackupEvent(ctx, tx, id, domain.EventTypeForStatus(to))
		return true, err
	})
	return b, err
}

// Recover runs at start, before any worker: every backup left running by a
// crash is marked failed with error "interrupted". It returns those backups
// (their archive names tell what partial files to remove) and the backups
// still queued, which the runner enqueues again so that nothing accepted is
// lost.
func (db *DB) Recover(ctx context.Context) (interrupted, queued []domain.Backup, err error) {
	err = db.update(ctx, func(tx *sql.Tx) (bool, error) {
		ids, err := idsWithStatus(ctx, tx, domain.StatusRunning)
		if err != nil {
			return false, err
		}
		now := formatTime(time.Now())
		for _, id := range ids {
			cur, err := getBackup(ctx, tx, id)
			if err != nil {
				return false, err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE backups SET status = 'failed', finished_at = ?, error = ?, archive = ''
				WHERE id = ?`, now, domain.ErrInterrupted, id); err != nil {
				return false, fmt.Errorf("mark backup %d interrupted: %w", id, err)
			}
			if _, err := appendBackupEvent(ctx, tx, id, domain.EventBackupFailed); err != nil {
				return false, err
			}
			interrupted = append(interrupted, cur)
		}
		return len(ids) > 0, nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("recover interrupted backups: %w", err)
	}
	queued, err = db.Backups(ctx, domain.BackupFilter{Status: domain.StatusQueued, Limit: domain.MaxLimit})
	return interrupted, queued, err
}

func idsWithStatus(ctx context.Context, tx *sql.Tx, s domain.Status) ([]int64, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id FROM backups WHERE status = ? AND origin = 'local' ORDER BY id`, string(s))
	if err != nil {
		return nil, fmt.Errorf("list %s backups: %w", s, err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// LatestBySource returns the newest local backup of each source.
func (db *DB) LatestBySource(ctx context.Context) (map[string]domain.Backup, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+backupColumns+` FROM backups
		WHERE id IN (SELECT max(id) FROM backups WHERE origin = 'local' GROUP BY source)`)
	if err != nil {
		return nil, fmt.Errorf("latest backups: %w", err)
	}
	defer rows.Close()
	out := map[string]domain.Backup{}
	for rows.Next() {
		b, err := scanBackup(rows)
		if err != nil {
			return nil, fmt.Errorf("scan backup: %w", err)
		}
		out[b.Source] = b
	}
	return out, rows.Err()
}
