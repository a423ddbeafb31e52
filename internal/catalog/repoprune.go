package catalog

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"time"

	"github.com/backupd/backupd/internal/repo"
)

// Snapshots implements repo.Index.
func (x repoIndex) Snapshots(ctx context.Context) ([]repo.SnapshotRecord, error) {
	rows, err := x.db.read.QueryContext(ctx, `SELECT id, source, backup_id, time, size FROM repo_snapshots ORDER BY time, id`)
	if err != nil {
		return nil, fmt.Errorf("list snapshots: %w", err)
	}
	defer rows.Close()
	var out []repo.SnapshotRecord
	for rows.Next() {
		var s repo.SnapshotRecord
		var id []byte
		var at string
		if err := rows.Scan(&id, &s.Source, &s.BackupID, &at, &s.Size); err != nil {
			return nil, fmt.Errorf("scan snapshot: %w", err)
		}
		copy(s.ID[:], id)
		if s.Time, err = parseTime(at); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// Packs implements repo.Index.
func (x repoIndex) Packs(ctx context.Context) ([]repo.PackRecord, error) {
	return scanPacks(x.db.read.QueryContext(ctx, `SELECT id, size, blobs, created_at, marked_at FROM repo_packs`))
}

func scanPacks(rows *sql.Rows, err error) ([]repo.PackRecord, error) {
	if err != nil {
		return nil, fmt.Errorf("list packs: %w", err)
	}
	defer rows.Close()
	var out []repo.PackRecord
	for rows.Next() {
		var p repo.PackRecord
		var id []byte
		var created string
		var marked sql.NullString
		if err := rows.Scan(&id, &p.Size, &p.Blobs, &created, &marked); err != nil {
			return nil, fmt.Errorf("scan pack: %w", err)
		}
		copy(p.ID[:], id)
		if p.Created, err = parseTime(created); err != nil {
			return nil, err
		}
		if m, err := scanTime(marked); err != nil {
			return nil, err
		} else if m != nil {
			p.MarkedAt = *m
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// oldestLease is the generation of the oldest lease alive at now
// (math.MaxInt64 when there is none).
func oldestLease(ctx context.Context, tx *sql.Tx, now time.Time) (int64, error) {
	var g sql.NullInt64
	if err := tx.QueryRowContext(ctx, `SELECT min(gen) FROM repo_leases WHERE renewed_at >= ?`,
		formatTime(now.Add(-repo.LeaseTTL))).Scan(&g); err != nil {
		return 0, fmt.Errorf("oldest lease: %w", err)
	}
	if !g.Valid {
		return math.MaxInt64, nil
	}
	return g.Int64, nil
}

// MarkUnreferenced implements repo.Index.
func (x repoIndex) MarkUnreferenced(ctx context.Context, now time.Time) (int, error) {
	var n int64
	err := x.update(ctx, func(tx *sql.Tx) error {
		oldest, err := oldestLease(ctx, tx, now)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE repo_state SET gen = gen + 1`); err != nil {
			return fmt.Errorf("mark packs: %w", err)
		}
		res, err := tx.ExecContext(ctx, `UPDATE repo_packs SET marked_at = ?, marked_gen = (SELECT gen FROM repo_state)
			WHERE marked_at IS NULL AND gen < ?
			AND NOT EXISTS (SELECT 1 FROM repo_snapshot_packs sp WHERE sp.pack = repo_packs.id)`, formatTime(now), oldest)
		if err != nil {
			return fmt.Errorf("mark packs: %w", err)
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}

// TakeDeletable implements repo.Index.
func (x repoIndex) TakeDeletable(ctx context.Context, now time.Time, margin time.Duration) ([]repo.PackRecord, error) {
	var out []repo.PackRecord
	err := x.update(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM repo_leases WHERE renewed_at < ?`, formatTime(now.Add(-repo.LeaseTTL))); err != nil {
			return fmt.Errorf("drop lapsed leases: %w", err)
		}
		oldest, err := oldestLease(ctx, tx, now)
		if err != nil {
			return err
		}
		if out, err = scanPacks(tx.QueryContext(ctx, `SELECT id, size, blobs, created_at, marked_at FROM repo_packs
			WHERE marked_at IS NOT NULL AND marked_at <= ? AND marked_gen <= ?
			AND NOT EXISTS (SELECT 1 FROM repo_snapshot_packs sp WHERE sp.pack = repo_packs.id)`,
			formatTime(now.Add(-margin)), oldest)); err != nil {
			return err
		}
		for _, p := range out {
			if _, err := tx.ExecContext(ctx, `DELETE FROM repo_chunks WHERE pack = ?`, p.ID[:]); err != nil {
				return fmt.Errorf("drop pack chunks: %w", err)
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM repo_packs WHERE id = ?`, p.ID[:]); err != nil {
				return fmt.Errorf("drop pack: %w", err)
			}
		}
		return nil
	})
	return out, err
}

// ActiveBackups implements repo.Index.
func (x repoIndex) ActiveBackups(ctx context.Context, now time.Time) (int, error) {
	var n int
	err := x.db.read.QueryRowContext(ctx, `SELECT count(*) FROM repo_leases WHERE renewed_at >= ?`,
		formatTime(now.Add(-repo.LeaseTTL))).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count backups in progress: %w", err)
	}
	return n, nil
}
