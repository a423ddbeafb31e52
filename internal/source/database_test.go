package source_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/backupd/backupd/internal/archive"
	"github.com/backupd/backupd/internal/config"
	"github.com/backupd/backupd/internal/dbtest"
	"github.com/backupd/backupd/internal/restore"
	"github.com/backupd/backupd/internal/source"
)

// dumpDB backs db up through the source into an archive in memory and
// returns the archive's manifest and where it was extracted.
func dumpDB(t *testing.T, cfg config.Source) (archive.Manifest, string) {
	t.Helper()
	src, err := source.New("db", cfg)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w, err := archive.NewWriter(&buf, archive.Meta{Source: "db", Kind: cfg.Kind, Started: time.Now()}, archive.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Dump(context.Background(), w, source.Env{TempDir: t.TempDir()}); err != nil {
		t.Fatalf("dump: %v", err)
	}
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	m, err := archive.Extract(context.Background(), &buf, dir)
	if err != nil {
		t.Fatalf("extract: %v", err)
	}
	return m, dir
}

// TestDatabaseRoundTripUnderWrites backs up a database while a writer
// keeps inserting, restores it into a new database and checks that every
// row committed before the backup began is there, equal column for
// column, with the view, function and trigger, and that the manifest's
// row counts are exactly what was restored.
func TestDatabaseRoundTripUnderWrites(t *testing.T) {
	for _, kind := range []string{config.KindPostgres, config.KindMySQL} {
		t.Run(kind, func(t *testing.T) {
			srv := server(t, kind)
			db := dbtest.NewDB(t, srv)
			rows := 300_000
			if testing.Short() {
				rows = 20_000
			}
			dbtest.Fill(t, srv, db, rows)
			conn := dbtest.Open(t, srv, db)
			w := dbtest.StartWriter(t, srv, db)
			time.Sleep(50 * time.Millisecond) // let the writer get going
			maxID := dbtest.MaxID(t, conn)

			m, dir := dumpDB(t, dbtest.SourceConfig(srv, db))
			if n := w.Stop(t); n == 0 {
				t.Fatal("the writer inserted nothing during the backup")
			}
			infos, err := source.DatabasesFromInfo(m.Info)
			if err != nil {
				t.Fatal(err)
			}
			info := infos[db]
			if !info.Exact {
				t.Errorf("row counts are not exact: %+v", info)
			}

			target := dbtest.NewDB(t, srv)
			if err := restore.Database(context.Background(), srv, target, filepath.Join(dir, info.Stream), t.TempDir(), false); err != nil {
				t.Fatalf("restore: %v", err)
			}
			got, err := restore.Count(context.Background(), srv, target)
			if err != nil {
				t.Fatal(err)
			}
			for table, want := range info.Tables {
				if got[table] != want {
					t.Errorf("%s: %d rows restored, manifest says %d", table, got[table], want)
				}
			}
			// Not maxID itself: MariaDB's auto-increment leaves gaps.
			var before int64
			if err := conn.QueryRow(fmt.Sprintf(`SELECT count(*) FROM items WHERE id <= %d`, maxID)).Scan(&before); err != nil {
				t.Fatal(err)
			}
			if n := info.Tables[qualify(kind, "items")]; n < before {
				t.Errorf("manifest counts %d items, but %d were committed before the backup", n, before)
			}
			restored := dbtest.Open(t, srv, target)
			for _, table := range dbtest.Tables {
				limit := int64(0)
				if table == "items" {
					limit = maxID
				}
				if a, b := dbtest.Checksum(t, srv, conn, table, limit), dbtest.Checksum(t, srv, restored, table, limit); a != b {
					t.Errorf("%s differs after restore: original %s, restored %s", table, a, b)
				}
			}
			dbtest.CheckObjects(t, srv, restored)
		})
	}
}

func qualify(kind, table string) string {
	if kind == config.KindPostgres {
		return "public." + table
	}
	return table
}

func server(t *testing.T, kind string) source.Server {
	if kind == config.KindPostgres {
		return dbtest.Postgres(t)
	}
	return dbtest.MySQL(t)
}

// TestDatabaseErrors checks that the usual failures say what to fix.
func TestDatabaseErrors(t *testing.T) {
	for _, kind := range []string{config.KindPostgres, config.KindMySQL} {
		t.Run(kind+"/refused", func(t *testing.T) {
			cfg := config.Source{Kind: kind, Host: "127.0.0.1", Port: closedPort(t), Databases: []string{"x"}}
			err := dumpErr(t, cfg)
			for _, want := range []string{"connection refused at 127.0.0.1:", "running?", "sources.db.host/port"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
		})
		t.Run(kind+"/no-tool", func(t *testing.T) {
			t.Setenv("PATH", t.TempDir())
			err := dumpErr(t, config.Source{Kind: kind, Databases: []string{"x"}})
			want := map[string]string{config.KindPostgres: "pg_dump not found in PATH: install postgresql-client",
				config.KindMySQL: "mariadb-dump or mysqldump not found in PATH: install mariadb-client"}[kind]
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not contain %q", err, want)
			}
		})
		t.Run(kind+"/no-database", func(t *testing.T) {
			srv := server(t, kind)
			cfg := dbtest.SourceConfig(srv, "backupd_no_such_db")
			if err := dumpErr(t, cfg); !strings.Contains(err.Error(), `database "backupd_no_such_db" does not exist`) {
				t.Errorf("error %q does not name the missing database", err)
			}
		})
	}
}

func dumpErr(t *testing.T, cfg config.Source) error {
	t.Helper()
	src, err := source.New("db", cfg)
	if err != nil {
		t.Fatal(err)
	}
	w, err := archive.NewWriter(&bytes.Buffer{}, archive.Meta{Source: "db", Kind: cfg.Kind}, archive.Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = src.Dump(context.Background(), w, source.Env{TempDir: t.TempDir()})
	if err == nil {
		t.Fatal("dump succeeded; want an error")
	}
	return err
}

// closedPort is a loopback port nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}
