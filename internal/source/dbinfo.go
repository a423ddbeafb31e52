package source

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
)

// DatabaseInfo is what a database dump records in the manifest, under
// info.databases.<name>, for the restore drill to check itself against.
type DatabaseInfo struct {
	// Stream is the archive stream holding this database's dump.
	Stream string `json:"stream"`
	// Tables maps each table to its row count at dump time.
	Tables map[string]int64 `json:"tables"`
	// Exact is true when Tables was counted in the very snapshot the dump
	// was taken from; false means the counts are only close (see
	// docs/restore.md), and the drill checks the table set alone.
	Exact bool `json:"exact"`
}

// SkippedDatabasesKey is the manifest info key listing, for a dump of all
// databases, those dropped after the list was taken and before their turn.
const SkippedDatabasesKey = "skipped_databases"

// DatabasesFromInfo reads info.databases of a manifest.
func DatabasesFromInfo(info map[string]any) (map[string]DatabaseInfo, error) {
	raw, ok := info["databases"]
	if !ok {
		return nil, fmt.Errorf("the manifest lists no databases (info.databases is missing)")
	}
	b, err := json.Marshal(raw)
	if err != nil {
		return nil, fmt.Errorf("encode info.databases: %w", err)
	}
	var out map[string]DatabaseInfo
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("the manifest's info.databases is malformed: %w", err)
	}
	return out, nil
}

// Querier is what counting needs: a *sql.DB, *sql.Conn or *sql.Tx.
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// ScanStrings reads a one-column result of strings and closes rows.
func ScanStrings(rows *sql.Rows) ([]string, error) {
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}
