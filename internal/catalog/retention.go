package catalog

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/backupd/backupd/internal/domain"
)

// ExpireArchives applies a retention of keep to source: the succeeded local
// backups older than the newest keep lose their archive name, and the names
// are returned for the caller to delete. The catalog changes first, so a
// crash before the files are deleted leaves an orphan file, never a record
// that points at nothing. The records themselves stay: history is kept.
// Each expired backup gets a backup.expired event in the same transaction.
func (db *DB) ExpireArchives(ctx context.Context, source string, keep int) ([]string, error) {
	if keep <= 0 {
		return nil, nil
	}
	var names []string
	err := db.update(ctx, func(tx *sql.Tx) (bool, error) {
		rows, err := tx.QueryContext(ctx, `SELECT id, archive FROM backups
			WHERE source = ? AND origin = 'local' AND status = 'succeeded' AND archive != ''
			ORDER BY id DESC LIMIT -1 OFFSET ?`, source, keep)
		if err != nil {
			return false, fmt.Errorf("list expired backups: %w", err)
		}
		var ids []int64
		for rows.Next() {
			var id int64
			var name string
			if err := rows.Scan(&id, &name); err != nil {
				rows.Close()
				return false, fmt.Errorf("scan expired backup: %w", err)
			}
			ids, names = append(ids, id), append(names, name)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return false, err
		}
		for _, id := range ids {
			if _, err := tx.ExecContext(ctx, `UPDATE backups SET archive = '' WHERE id = ?`, id); err != nil {
				return false, fmt.Errorf("expire backup %d: %w", id, err)
			}
			if _, err := appendBackupEvent(ctx, tx, id, domain.EventBackupExpired); err != nil {
				return false, err
			}
		}
		return len(ids) > 0, nil
	})
	return names, err
}
