package catalog

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/backupd/backupd/internal/domain"
)

// Restore drill outcomes, stored in backups.verify_status.
const (
	VerifyPassed = "passed"
	VerifyFailed = "failed"
)

// RecordVerify stores the outcome of a restore drill of backup id (status
// VerifyPassed or VerifyFailed, and why it failed) with the time it ended,
// and appends a backup.verified event in the same transaction.
func (db *DB) RecordVerify(ctx context.Context, id int64, status, reason string) (domain.Backup, error) {
	if status != VerifyPassed && status != VerifyFailed {
		return domain.Backup{}, fmt.Errorf("record verify of backup %d: %q is not passed or failed", id, status)
	}
	var b domain.Backup
	err := db.update(ctx, func(tx *sql.Tx) (bool, error) {
		res, err := tx.ExecContext(ctx, `UPDATE backups SET verified_at = ?, verify_status = ?, verify_error = ?
			WHERE id = ?`, formatTime(time.Now()), status, reason, id)
		if err != nil {
			return false, fmt.Errorf("record verify of backup %d: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return false, domain.Errorf(domain.ENOTFOUND, "backup %d does not exist", id)
		}
		b, err = appendBackupEvent(ctx, tx, id, domain.EventBackupVerified)
		return true, err
	})
	return b, err
}
