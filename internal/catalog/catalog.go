// Package catalog is backupd's SQLite catalog: backups, the events outbox
// and the watcher that tails it. Writes go through one connection (SQLite
// has one writer anyway, and this avoids busy retries); reads use a pool.
package catalog

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sync"

	_ "github.com/mattn/go-sqlite3" // registers the "sqlite3" driver
)

// DB is an open catalog.
type DB struct {
	path  string
	write *sql.DB
	read  *sql.DB

	// changed is signalled, without blocking, after every commit that added
	// events, so the watcher wakes at once for this process's own writes.
	changedMu sync.Mutex
	changed   []chan struct{}
}

// Open opens (creating if needed) the catalog at path and applies every
// migration in migrations that is not yet recorded.
func Open(ctx context.Context, path string, migrations fs.FS) (*DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("create catalog dir: %w", err)
	}
	db := &DB{path: path}
	var err error
	// synchronous=FULL: a commit is fsync'd before it returns, which is what
	// lets the API promise that an acknowledged record is on disk.
	if db.write, err = sql.Open("sqlite3", dsn(path, url.Values{
		"_journal_mode": {"WAL"}, "_synchronous": {"FULL"}, "_busy_timeout": {"10000"},
		"_foreign_keys": {"on"}, "_txlock": {"immediate"},
		// Each write re-runs the same few statements; caching their
		// prepared form saves about a tenth of the writer's CPU.
		"_stmt_cache_size": {"64"},
	})); err != nil {
		return nil, fmt.Errorf("open catalog: %w", err)
	}
	db.write.SetMaxOpenConns(1)
	if err := db.migrate(ctx, migrations); err != nil {
		db.write.Close()
		return nil, err
	}
	if db.read, err = sql.Open("sqlite3", dsn(path, url.Values{
		"_busy_timeout": {"10000"}, "_query_only": {"1"}, "_stmt_cache_size": {"64"},
	})); err != nil {
		db.write.Close()
		return nil, fmt.Errorf("open catalog for reading: %w", err)
	}
	db.read.SetMaxOpenConns(8)
	return db, nil
}

func dsn(path string, v url.Values) string {
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + v.Encode()
}

// Path returns the catalog's file name.
func (db *DB) Path() string { return db.path }

// Check reads the catalog's schema, for the health endpoint: it fails when
// the file cannot be read (a lost disk, a removed file).
func (db *DB) Check(ctx context.Context) error {
	var n int
	if err := db.read.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema").Scan(&n); err != nil {
		return fmt.Errorf("catalog %s: %w", db.path, err)
	}
	return nil
}

// Close closes both connection pools.
func (db *DB) Close() error {
	werr := db.write.Close()
	if db.read != nil {
		if err := db.read.Close(); err != nil {
			return fmt.Errorf("close catalog: %w", err)
		}
	}
	if werr != nil {
		return fmt.Errorf("close catalog: %w", werr)
	}
	return nil
}

// update runs fn in one write transaction and commits once; on error it
// rolls back. If fn reported new events, watchers are woken after commit.
func (db *DB) update(ctx context.Context, fn func(tx *sql.Tx) (events bool, err error)) error {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	events, err := fn(tx)
	if err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	if events {
		db.notify()
	}
	return nil
}

// subscribe returns a channel that receives a value (coalesced) after each
// commit that added events.
func (db *DB) subscribe() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	db.changedMu.Lock()
	db.changed = append(db.changed, ch)
	db.changedMu.Unlock()
	return ch, func() {
		db.changedMu.Lock()
		defer db.changedMu.Unlock()
		for i, c := range db.changed {
			if c == ch {
				db.changed = append(db.changed[:i], db.changed[i+1:]...)
				return
			}
		}
	}
}

func (db *DB) notify() {
	db.changedMu.Lock()
	defer db.changedMu.Unlock()
	for _, ch := range db.changed {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}
