// Package dbtest gives tests the real PostgreSQL and MariaDB servers of
// the machine (127.0.0.1:5432 user postgres, 127.0.0.1:3306 user root):
// uniquely named scratch databases dropped when the test ends, a schema
// with the awkward cases (NULLs, unicode, binary, a view, a function, a
// trigger), a writer that keeps inserting, and per-table checksums to
// compare a restore with its original. An unreachable server skips the
// test on a laptop and fails it under CI=true (testenv.Missing).
package dbtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/backupd/backupd/internal/config"
	"github.com/backupd/backupd/internal/restore"
	"github.com/backupd/backupd/internal/source"
	"github.com/backupd/backupd/internal/testenv"
)

// Postgres returns the test PostgreSQL server, or skips/fails t.
func Postgres(t testing.TB) source.Server {
	t.Helper()
	return server(t, config.Source{Kind: config.KindPostgres, Host: env("BACKUPD_TEST_PGHOST", "127.0.0.1"), Port: envInt("BACKUPD_TEST_PGPORT", 5432), User: "postgres"})
}

// MySQL returns the test MariaDB (or MySQL) server, or skips/fails t.
func MySQL(t testing.TB) source.Server {
	t.Helper()
	return server(t, config.Source{Kind: config.KindMySQL, Host: env("BACKUPD_TEST_MYHOST", "127.0.0.1"), Port: envInt("BACKUPD_TEST_MYPORT", 3306), User: "root"})
}

func server(t testing.TB, cfg config.Source) source.Server {
	t.Helper()
	srv := source.ServerOf(cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := restore.Objects(ctx, srv, ""); err != nil {
		testenv.Missing(t, cfg.Kind+" server at "+srv.Addr(), err)
	}
	return srv
}

// NewDB creates a uniquely named empty database on srv, dropped when the
// test ends, and returns its name.
func NewDB(t testing.TB, srv source.Server) string {
	t.Helper()
	b := make([]byte, 4)
	rand.Read(b)
	name := "backupd_test_" + hex.EncodeToString(b)
	ctx := context.Background()
	if err := restore.CreateDatabase(ctx, srv, name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := restore.DropDatabase(context.Background(), srv, name); err != nil {
			t.Errorf("drop test database: %v", err)
		}
	})
	return name
}

// Open connects to db on srv; closed when the test ends.
func Open(t testing.TB, srv source.Server, db string) *sql.DB {
	t.Helper()
	var conn *sql.DB
	var err error
	if srv.Kind == config.KindPostgres {
		conn, err = sql.Open("postgres", srv.PostgresDSN(db))
	} else {
		conn, err = sql.Open("mysql", srv.MySQLDSN(db)+"&multiStatements=true")
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// Exec runs each statement on conn or fails t.
func Exec(t testing.TB, conn *sql.DB, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := conn.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// SourceConfig is a source of srv's kind dumping dbs.
func SourceConfig(srv source.Server, dbs ...string) config.Source {
	return config.Source{Kind: srv.Kind, Host: srv.Host, Port: srv.Port, User: srv.User, Password: srv.Password, Databases: dbs}
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return n
	}
	return def
}

// Writer inserts rows into items until stopped, in small transactions,
// as a busy application would during a backup.
type Writer struct {
	stop chan struct{}
	done chan error
	n    int
}

// StartWriter starts inserting into db's items table.
func StartWriter(t testing.TB, srv source.Server, db string) *Writer {
	t.Helper()
	conn := Open(t, srv, db)
	w := &Writer{stop: make(chan struct{}), done: make(chan error, 1)}
	q := `INSERT INTO items (name, note, data, price) VALUES ('written-during-backup ✓', NULL, '\x00ff', 1.5)`
	if srv.Kind == config.KindMySQL {
		q = `INSERT INTO items (name, note, data, price) VALUES ('written-during-backup ✓', NULL, X'00ff', 1.5)`
	}
	go func() {
		for {
			select {
			case <-w.stop:
				w.done <- nil
				return
			default:
			}
			if _, err := conn.Exec(q); err != nil {
				w.done <- fmt.Errorf("writer: %w", err)
				return
			}
			w.n++
		}
	}()
	return w
}

// Stop stops the writer and returns how many rows it inserted.
func (w *Writer) Stop(t testing.TB) int {
	t.Helper()
	close(w.stop)
	if err := <-w.done; err != nil {
		t.Fatal(err)
	}
	return w.n
}
