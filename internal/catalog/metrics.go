package catalog

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// SourceStats is what the catalog knows of one source, for metrics.
type SourceStats struct {
	// LastSuccess is when the newest succeeded backup (run here or
	// reported by webhook) finished, or for a report without finished_at,
	// was received; zero if none succeeded. LastSize is that backup's size.
	LastSuccess time.Time
	LastSize    int64
	// LastAttempt is when the newest succeeded or failed backup ended,
	// and LastAttemptOK whether it succeeded; zero and false if none has
	// ended. Canceled backups are not attempts: a person stopped them,
	// the source did not fail.
	LastAttempt   time.Time
	LastAttemptOK bool
	// Archives counts what this daemon keeps of the source's backups
	// (succeeded, local, not yet expired by retention): tar.zst archives
	// and repository snapshots. ArchiveBytes is the size of the tar.zst
	// archives among them; the repository's is RepoBytes.
	Archives     int64
	ArchiveBytes int64
	// LastAdded is what the newest succeeded backup added to the
	// repository.
	LastAdded int64
}

// Stats returns SourceStats for every source with a succeeded or failed
// backup, read in one read transaction so that the two passes agree.
func (db *DB) Stats(ctx context.Context) (map[string]*SourceStats, error) {
	tx, err := db.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("source stats: %w", err)
	}
	defer tx.Rollback()
	out := map[string]*SourceStats{}
	if err := successStats(ctx, tx, out); err != nil {
		return nil, err
	}
	if err := attemptStats(ctx, tx, out); err != nil {
		return nil, err
	}
	return out, nil
}

// successStats fills in the last success and the archives stored, in one
// pass over the succeeded backups.
func successStats(ctx context.Context, tx *sql.Tx, out map[string]*SourceStats) error {
	// Our time layout is fixed-width, so max() of the text is the latest;
	// size_bytes, a bare column beside the one max(), is SQLite's value
	// from that same row.
	rows, err := tx.QueryContext(ctx, `SELECT source, max(coalesce(finished_at, created_at)), size_bytes, added_bytes,
			count(CASE WHEN origin = 'local' AND archive != '' THEN 1 END),
			coalesce(sum(CASE WHEN origin = 'local' AND archive != '' AND snapshot = '' THEN size_bytes END), 0)
		FROM backups WHERE status = 'succeeded' GROUP BY source`)
	if err != nil {
		return fmt.Errorf("source stats: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var source, at string
		st := &SourceStats{}
		if err := rows.Scan(&source, &at, &st.LastSize, &st.LastAdded, &st.Archives, &st.ArchiveBytes); err != nil {
			return fmt.Errorf("scan source stats: %w", err)
		}
		if st.LastSuccess, err = parseTime(at); err != nil {
			return err
		}
		out[source] = st
	}
	return rows.Err()
}

// attemptStats fills in the newest backup that ended, succeeded or failed.
func attemptStats(ctx context.Context, tx *sql.Tx, out map[string]*SourceStats) error {
	rows, err := tx.QueryContext(ctx, `SELECT source, max(coalesce(finished_at, created_at)), status
		FROM backups WHERE status IN ('succeeded', 'failed') GROUP BY source`)
	if err != nil {
		return fmt.Errorf("source attempt stats: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var source, at, status string
		if err := rows.Scan(&source, &at, &status); err != nil {
			return fmt.Errorf("scan source attempt stats: %w", err)
		}
		st := out[source]
		if st == nil {
			st = &SourceStats{}
			out[source] = st
		}
		if st.LastAttempt, err = parseTime(at); err != nil {
			return err
		}
		st.LastAttemptOK = status == "succeeded"
	}
	return rows.Err()
}
