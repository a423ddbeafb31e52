package catalog

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/backupd/backupd/internal/domain"
)

// ExpireArchives applies retention r to source, with calendar days in loc:
// the succeeded local backups whose archives r does not keep lose their
// archive name, and are returned for the caller to delete the archive or
// forget the snapshot. The catalog changes first, so a crash before the
// files are deleted leaves an orphan file (or a snapshot that prune does
// not reclaim until it is forgotten), never a record that points at
// nothing. The records themselves stay: history is kept. Each expired
// backup gets a backup.expired event in the same transaction.
func (db *DB) ExpireArchives(ctx context.Context, source string, r domain.Retention, loc *time.Location) ([]domain.Expired, error) {
	if r.KeepsAll() {
		return nil, nil
	}
	var out []domain.Expired
	err := db.update(ctx, func(tx *sql.Tx) (bool, error) {
		out = out[:0]
		kept, created, err := archived(ctx, tx, source)
		if err != nil {
			return false, err
		}
		expired := r.Expired(created, loc)
		for _, i := range expired {
			if _, err := tx.ExecContext(ctx, `UPDATE backups SET archive = '' WHERE id = ?`, kept[i].ID); err != nil {
				return false, fmt.Errorf("expire backup %d: %w", kept[i].ID, err)
			}
			if _, err := appendBackupEvent(ctx, tx, kept[i].ID, domain.EventBackupExpired); err != nil {
				return false, err
			}
			out = append(out, kept[i])
		}
		return len(expired) > 0, nil
	})
	return out, err
}

// archived lists source's backups that still have an archive or
// snapshot, newest first, with their creation times.
func archived(ctx context.Context, tx *sql.Tx, source string) ([]domain.Expired, []time.Time, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id, archive, snapshot, created_at FROM backups
		WHERE source = ? AND origin = 'local' AND status = 'succeeded' AND archive != ''
		ORDER BY id DESC`, source)
	if err != nil {
		return nil, nil, fmt.Errorf("list archived backups: %w", err)
	}
	defer rows.Close()
	var out []domain.Expired
	var created []time.Time
	for rows.Next() {
		var e domain.Expired
		var at string
		if err := rows.Scan(&e.ID, &e.Archive, &e.Snapshot, &at); err != nil {
			return nil, nil, fmt.Errorf("scan archived backup: %w", err)
		}
		t, err := parseTime(at)
		if err != nil {
			return nil, nil, fmt.Errorf("backup %d: %w", e.ID, err)
		}
		out, created = append(out, e), append(created, t)
	}
	return out, created, rows.Err()
}
