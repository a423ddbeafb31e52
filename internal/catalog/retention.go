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
// archive name, and the names are returned for the caller to delete. The
// catalog changes first, so a crash before the files are deleted leaves an
// orphan file, never a record that points at nothing. The records
// themselves stay: history is kept. Each expired backup gets a
// backup.expired event in the same transaction.
func (db *DB) ExpireArchives(ctx context.Context, source string, r domain.Retention, loc *time.Location) ([]string, error) {
	if r.KeepsAll() {
		return nil, nil
	}
	var names []string
	err := db.update(ctx, func(tx *sql.Tx) (bool, error) {
		names = names[:0]
		rows, err := tx.QueryContext(ctx, `SELECT id, archive, created_at FROM backups
			WHERE source = ? AND origin = 'local' AND status = 'succeeded' AND archive != ''
			ORDER BY id DESC`, source)
		if err != nil {
			return false, fmt.Errorf("list archived backups: %w", err)
		}
		var ids []int64
		var archives []string
		var created []time.Time
		for rows.Next() {
			var id int64
			var name, at string
			if err := rows.Scan(&id, &name, &at); err != nil {
				rows.Close()
				return false, fmt.Errorf("scan archived backup: %w", err)
			}
			t, err := parseTime(at)
			if err != nil {
				rows.Close()
				return false, fmt.Errorf("backup %d: %w", id, err)
			}
			ids, archives, created = append(ids, id), append(archives, name), append(created, t)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return false, err
		}
		expired := r.Expired(created, loc)
		for _, i := range expired {
			if _, err := tx.ExecContext(ctx, `UPDATE backups SET archive = '' WHERE id = ?`, ids[i]); err != nil {
				return false, fmt.Errorf("expire backup %d: %w", ids[i], err)
			}
			if _, err := appendBackupEvent(ctx, tx, ids[i], domain.EventBackupExpired); err != nil {
				return false, err
			}
			names = append(names, archives[i])
		}
		return len(expired) > 0, nil
	})
	return names, err
}
