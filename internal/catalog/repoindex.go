package catalog

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/backupd/backupd/internal/domain"
	"github.com/backupd/backupd/internal/repo"
)

// RepoIndex returns the repository index kept in the catalog (migration
// 0003): chunk locations, packs, snapshots and the packs each needs, and
// the leases of backups in progress.
func (db *DB) RepoIndex() repo.Index { return repoIndex{db} }

type repoIndex struct{ db *DB }

var _ repo.Index = repoIndex{}

func (x repoIndex) update(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return x.db.update(ctx, func(tx *sql.Tx) (bool, error) { return false, fn(tx) })
}

// Lookup implements repo.Index.
func (x repoIndex) Lookup(ctx context.Context, id repo.ID) (repo.Location, bool, error) {
	var loc repo.Location
	var pack []byte
	err := x.db.read.QueryRowContext(ctx, `SELECT c.pack, c.type, c.pack_offset, c.length, c.raw_length
		FROM repo_chunks c JOIN repo_packs p ON p.id = c.pack WHERE c.id = ? AND p.marked_at IS NULL`, id[:]).
		Scan(&pack, &loc.Type, &loc.Offset, &loc.Length, &loc.RawLength)
	if err == sql.ErrNoRows {
		return loc, false, nil
	}
	if err != nil {
		return loc, false, fmt.Errorf("look chunk up: %w", err)
	}
	copy(loc.Pack[:], pack)
	return loc, true, nil
}

// AddPack implements repo.Index.
func (x repoIndex) AddPack(ctx context.Context, p repo.PackRecord, entries []repo.PackEntry) error {
	return x.update(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO repo_packs (id, size, blobs, created_at, gen)
			VALUES (?, ?, ?, ?, (SELECT gen FROM repo_state))`, p.ID[:], p.Size, p.Blobs, formatTime(p.Created)); err != nil {
			return fmt.Errorf("record pack: %w", err)
		}
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO repo_chunks (id, pack, pack_offset, length, raw_length, type)
			VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET pack = excluded.pack, pack_offset = excluded.pack_offset,
				length = excluded.length, raw_length = excluded.raw_length, type = excluded.type
			WHERE NOT EXISTS (SELECT 1 FROM repo_packs p WHERE p.id = repo_chunks.pack AND p.marked_at IS NULL)`)
		if err != nil {
			return fmt.Errorf("record chunks: %w", err)
		}
		defer stmt.Close()
		for _, e := range entries {
			if _, err := stmt.ExecContext(ctx, e.ID[:], p.ID[:], e.Offset, e.Length, e.RawLength, e.Type); err != nil {
				return fmt.Errorf("record chunk: %w", err)
			}
		}
		return nil
	})
}

// BeginBackup implements repo.Index.
func (x repoIndex) BeginBackup(ctx context.Context, now time.Time) (repo.Lease, error) {
	var id int64
	err := x.update(ctx, func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, `INSERT INTO repo_leases (gen, started_at, renewed_at)
			VALUES ((SELECT gen FROM repo_state), ?, ?) RETURNING id`, formatTime(now), formatTime(now)).Scan(&id)
	})
	if err != nil {
		return 0, fmt.Errorf("take repository lease: %w", err)
	}
	return repo.Lease(id), nil
}

func lapsed() error {
	return domain.Errorf(domain.ECONFLICT, "the backup's repository lease lapsed (not renewed for %s): prune may have removed what it references", repo.LeaseTTL)
}

// RenewBackup implements repo.Index.
func (x repoIndex) RenewBackup(ctx context.Context, l repo.Lease, now time.Time) error {
	return x.update(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE repo_leases SET renewed_at = ? WHERE id = ? AND renewed_at >= ?`,
			formatTime(now), int64(l), formatTime(now.Add(-repo.LeaseTTL)))
		if err != nil {
			return fmt.Errorf("renew repository lease: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return lapsed()
		}
		return nil
	})
}

// EndBackup implements repo.Index.
func (x repoIndex) EndBackup(ctx context.Context, l repo.Lease) error {
	return x.update(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM repo_leases WHERE id = ?`, int64(l))
		return err
	})
}

// CommitSnapshot implements repo.Index.
func (x repoIndex) CommitSnapshot(ctx context.Context, l repo.Lease, s repo.SnapshotRecord, now time.Time) error {
	return x.update(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM repo_leases WHERE id = ? AND renewed_at >= ?`,
			int64(l), formatTime(now.Add(-repo.LeaseTTL))).Scan(&n); err != nil {
			return fmt.Errorf("check lease: %w", err)
		}
		if n == 0 {
			return lapsed()
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO repo_snapshots (id, source, backup_id, time, size) VALUES (?, ?, ?, ?, ?)`,
			s.ID[:], s.Source, s.BackupID, formatTime(s.Time), s.Size); err != nil {
			return fmt.Errorf("record snapshot: %w", err)
		}
		for _, p := range s.Packs {
			res, err := tx.ExecContext(ctx, `UPDATE repo_packs SET marked_at = NULL, marked_gen = NULL WHERE id = ?`, p[:])
			if err != nil {
				return fmt.Errorf("record snapshot pack: %w", err)
			}
			if n, _ := res.RowsAffected(); n == 0 {
				return domain.Errorf(domain.ECONFLICT, "pack %s that the snapshot needs was pruned", p)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO repo_snapshot_packs (snapshot, pack) VALUES (?, ?)`, s.ID[:], p[:]); err != nil {
				return fmt.Errorf("record snapshot pack: %w", err)
			}
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM repo_leases WHERE id = ?`, int64(l))
		return err
	})
}

// ForgetSnapshot implements repo.Index.
func (x repoIndex) ForgetSnapshot(ctx context.Context, id repo.ID) error {
	return x.update(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM repo_snapshot_packs WHERE snapshot = ?`, id[:]); err != nil {
			return fmt.Errorf("forget snapshot: %w", err)
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM repo_snapshots WHERE id = ?`, id[:])
		return err
	})
}
