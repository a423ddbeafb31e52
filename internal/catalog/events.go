package catalog

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/backupd/backupd/internal/domain"
)

// appendBackupEvent reads backup id as it now is inside tx and appends an
// event of type typ carrying it. Callers run it in the transaction that made
// the change, so the event and the change commit or roll back together.
func appendBackupEvent(ctx context.Context, tx *sql.Tx, id int64, typ string) (domain.Backup, error) {
	b, err := getBackup(ctx, tx, id)
	if err != nil {
		return b, err
	}
	data, err := json.Marshal(b)
	if err != nil {
		return b, fmt.Errorf("encode event: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO events (type, backup_id, source, time, data) VALUES (?, ?, ?, ?, ?)`,
		typ, id, b.Source, formatTime(time.Now()), string(data)); err != nil {
		return b, fmt.Errorf("append event: %w", err)
	}
	return b, nil
}

// ListEvents returns events with id > since, oldest first, at most limit.
func (db *DB) ListEvents(ctx context.Context, since int64, limit int) ([]domain.Event, error) {
	return db.ListEventsBytes(ctx, since, limit, 0)
}

// ListEventsBytes is ListEvents that also stops once the events' data add
// up to maxBytes (0: no bound), so that a page of large events holds a
// bounded amount of memory; it returns at least one event if there is one.
// Rows are read one at a time, so those after the bound are never loaded.
func (db *DB) ListEventsBytes(ctx context.Context, since int64, limit int, maxBytes int64) ([]domain.Event, error) {
	if limit <= 0 {
		limit = domain.DefaultLimit
	}
	rows, err := db.read.QueryContext(ctx, `SELECT id, type, backup_id, source, time, data
		FROM events WHERE id > ? ORDER BY id LIMIT ?`, since, limit)
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	defer rows.Close()
	out := []domain.Event{}
	var size int64
	for (maxBytes <= 0 || size < maxBytes) && rows.Next() {
		var (
			ev       domain.Event
			backupID sql.NullInt64
			ts, data string
		)
		if err := rows.Scan(&ev.ID, &ev.Type, &backupID, &ev.Source, &ts, &data); err != nil {
			return nil, fmt.Errorf("scan event: %w", err)
		}
		size += int64(len(data))
		ev.BackupID = backupID.Int64
		if ev.Time, err = parseTime(ts); err != nil {
			return nil, fmt.Errorf("event %d: %w", ev.ID, err)
		}
		// A row written by another program or an older version, with a
		// payload that is not JSON or not UTF-8, is still delivered, made
		// safe, rather than dropped or sent as an invalid frame.
		ev.Data = domain.SafeJSON([]byte(data))
		out = append(out, ev)
	}
	return out, rows.Err()
}

// LastEventID returns the id of the newest event, 0 if there is none.
func (db *DB) LastEventID(ctx context.Context) (int64, error) {
	var id sql.NullInt64
	if err := db.read.QueryRowContext(ctx, `SELECT max(id) FROM events`).Scan(&id); err != nil {
		return 0, fmt.Errorf("last event id: %w", err)
	}
	return id.Int64, nil
}
