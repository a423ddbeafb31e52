package source

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"

	"github.com/backupd/backupd/internal/config"
	"github.com/backupd/backupd/internal/domain"
)

func openDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?_journal_mode=WAL&_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestSQLiteLiveSnapshot(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.db")
	db := openDB(t, path)
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(`CREATE TABLE items (id INTEGER PRIMARY KEY, body TEXT)`); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2000; i++ {
		if _, err := db.Exec(`INSERT INTO items (body) VALUES (?)`, strings.Repeat("x", 200)); err != nil {
			t.Fatal(err)
		}
	}
	// A writer keeps committing through its own connection while the
	// snapshot is taken.
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			if _, err := db.Exec(`INSERT INTO items (body) VALUES ('live')`); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	time.Sleep(20 * time.Millisecond) // let the writer get going
	var before int64
	if err := db.QueryRow(`SELECT max(id) FROM items`).Scan(&before); err != nil {
		t.Fatal(err)
	}
	data, err := dump(t, newSource(t, config.Source{Kind: "sqlite", Path: path}))
	stop()
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}

	dst, m := extract(t, data)
	if got, want := m.Entries[0].Name, "app.db"; got != want {
		t.Errorf("entry = %s, want %s", got, want)
	}
	n := checkSnapshot(t, filepath.Join(dst, "app.db"), before)
	tables, _ := m.Info["tables"].(map[string]any)
	if got, want := tables["items"], float64(n); got != want {
		t.Errorf("info tables.items = %v, want %v", got, want)
	}
}

// checkSnapshot checks an extracted copy of a database whose items table
// had ids up to before committed when the backup began: it passes
// integrity_check and holds every row up to there, with no gap. It returns
// the copy's row count.
func checkSnapshot(t *testing.T, path string, before int64) int64 {
	t.Helper()
	copyDB := openDB(t, path)
	var check string
	if err := copyDB.QueryRow(`PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
		t.Fatalf("integrity_check = %q, %v", check, err)
	}
	var n, maxID int64
	if err := copyDB.QueryRow(`SELECT count(*), max(id) FROM items`).Scan(&n, &maxID); err != nil {
		t.Fatal(err)
	}
	if maxID < before {
		t.Errorf("copy ends at id %d, but %d was committed before the backup started", maxID, before)
	}
	if n != maxID {
		t.Errorf("copy has %d rows up to id %d: rows are missing", n, maxID)
	}
	return n
}

func TestSQLiteMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.db")
	_, err := dump(t, newSource(t, config.Source{Kind: "sqlite", Path: path}))
	if got, want := domain.ErrorCode(err), domain.ENOTFOUND; got != want {
		t.Errorf("code = %s (%v), want %s", got, err, want)
	}
	if err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("error %v does not say the database is missing", err)
	}
}
