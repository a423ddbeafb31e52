package catalog

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/backupd/backupd/internal/domain"
)

// SourceHealth returns, for each of sources that has finished backups, its
// newest succeeded and newest failed backup and its last n finished ones
// (succeeded, failed or canceled), oldest first. Backups run here and
// backups reported by webhook count alike: a report of a dump that a
// database server made is as good a success as one of ours. "Newest" is
// the highest id, the order in which the catalog learnt of them.
//
// Two queries in one read transaction, whatever the number of sources;
// each walks the (source, id) index backwards from a source's newest row.
func (db *DB) SourceHealth(ctx context.Context, sources []string, n int) (map[string]domain.SourceHealth, error) {
	out := make(map[string]domain.SourceHealth, len(sources))
	if len(sources) == 0 {
		return out, nil
	}
	tx, err := db.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("source health: %w", err)
	}
	defer tx.Rollback()
	names, args := sourceValues(sources)
	if err := lastOutcomes(ctx, tx, names, args, out); err != nil {
		return nil, err
	}
	if err := history(ctx, tx, names, append(args, n), out); err != nil {
		return nil, err
	}
	return out, nil
}

// sourceValues is a table expression of the names, and its arguments.
func sourceValues(sources []string) (string, []any) {
	args := make([]any, len(sources))
	for i, s := range sources {
		args[i] = s
	}
	return "(VALUES " + strings.TrimSuffix(strings.Repeat("(?),", len(sources)), ",") + ")", args
}

func lastOutcomes(ctx context.Context, tx *sql.Tx, names string, args []any, out map[string]domain.SourceHealth) error {
	newest := func(status domain.Status) string {
		return `SELECT (SELECT id FROM backups b WHERE b.source = s.column1 AND b.status = '` + string(status) +
			`' ORDER BY b.id DESC LIMIT 1) FROM ` + names + ` s`
	}
	q := `SELECT ` + backupColumns + ` FROM backups WHERE id IN (` +
		newest(domain.StatusSucceeded) + ` UNION ALL ` + newest(domain.StatusFailed) + `)`
	rows, err := tx.QueryContext(ctx, q, append(args, args...)...)
	if err != nil {
		return fmt.Errorf("last outcomes: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		b, err := scanBackup(rows)
		if err != nil {
			return fmt.Errorf("scan backup: %w", err)
		}
		h := out[b.Source]
		if b.Status == domain.StatusSucceeded {
			h.LastSuccess = &b
		} else {
			h.LastFailure = &b
		}
		out[b.Source] = h
	}
	return rows.Err()
}

func history(ctx context.Context, tx *sql.Tx, names string, args []any, out map[string]domain.SourceHealth) error {
	q := `SELECT b.id, b.source, b.status, b.started_at, b.finished_at, b.size_bytes
		FROM ` + names + ` s JOIN backups b ON b.id IN (
			SELECT id FROM backups x WHERE x.source = s.column1
			AND x.status IN ('succeeded', 'failed', 'canceled') ORDER BY x.id DESC LIMIT ?)
		ORDER BY b.source, b.id`
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("backup history: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			p                 domain.HistoryPoint
			source            string
			started, finished sql.NullString
		)
		if err := rows.Scan(&p.ID, &source, &p.Status, &started, &finished, &p.SizeBytes); err != nil {
			return fmt.Errorf("scan history: %w", err)
		}
		s, err := scanTime(started)
		if err != nil {
			return err
		}
		if p.FinishedAt, err = scanTime(finished); err != nil {
			return err
		}
		if s != nil && p.FinishedAt != nil && p.FinishedAt.After(*s) {
			p.DurationSeconds = p.FinishedAt.Sub(*s).Seconds()
		}
		h := out[source]
		h.History = append(h.History, p)
		out[source] = h
	}
	return rows.Err()
}
