package catalog

import (
	"context"
	"fmt"
	"time"

	"github.com/backupd/backupd/internal/domain"
)

// DefaultPoll is how often the watcher checks PRAGMA data_version for
// commits made by other processes.
const DefaultPoll = 200 * time.Millisecond

// watchPageBytes bounds the event data the watcher reads at once.
const watchPageBytes = 4 << 20

// Watch tails the events table: it calls emit with every event after
// `after`, in id order, each once, and then with every event committed
// later, until ctx ends. It is woken at once by this process's commits
// (after they commit, so it never sees an uncommitted row) and polls
// PRAGMA data_version every poll to notice commits by other processes,
// such as a row inserted with the sqlite3 shell.
func (db *DB) Watch(ctx context.Context, after int64, poll time.Duration, emit func(domain.Event)) error {
	if poll <= 0 {
		poll = DefaultPoll
	}
	wake, unsubscribe := db.subscribe()
	defer unsubscribe()
	// data_version is per connection: it changes when any other connection
	// commits, so the watcher keeps one connection of its own.
	conn, err := db.read.Conn(ctx)
	if err != nil {
		return fmt.Errorf("watch: %w", err)
	}
	defer conn.Close()
	ticker := time.NewTicker(poll)
	defer ticker.Stop()

	last, version := after, int64(-1)
	for {
		for {
			// Bounded in bytes too: a burst of large events is handed on
			// a few MiB at a time.
			evs, err := db.ListEventsBytes(ctx, last, 1000, watchPageBytes)
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("watch: %w", err)
			}
			for _, ev := range evs {
				emit(ev)
				last = ev.ID
			}
			var size int64
			for _, ev := range evs {
				size += int64(len(ev.Data))
			}
			if len(evs) < 1000 && size < watchPageBytes {
				break
			}
		}
		for changed := false; !changed; {
			select {
			case <-ctx.Done():
				return nil
			case <-wake:
				changed = true
			case <-ticker.C:
				var v int64
				if err := conn.QueryRowContext(ctx, `PRAGMA data_version`).Scan(&v); err != nil {
					if ctx.Err() != nil {
						return nil
					}
					return fmt.Errorf("watch: data_version: %w", err)
				}
				changed, version = v != version, v
			}
		}
	}
}
