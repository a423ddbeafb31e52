package source_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
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

// dropOnFirstStream drops a database on the real server when the dump
// writes its first stream: a database that goes away after the list of
// all databases was taken and before its turn.
type dropOnFirstStream struct {
	*archive.Writer
	drop func()
	once bool
}

func (d *dropOnFirstStream) AddStream(name string, r io.Reader) error {
	if !d.once {
		d.once = true
		d.drop()
	}
	return d.Writer.AddStream(name, r)
}

// TestAllSkipsDroppedDatabase: with all: true, a database dropped while
// the others are dumped is skipped and named in the manifest, and the
// backup still succeeds with everything else.
//
// all: true dumps every database on the shared test server, including
// those of tests running in other packages; PostgreSQL ones are dropped
// WITH (FORCE), which ends a dump that is reading them at that moment. Such
// a run is retried, as a backup would be on its next schedule.
func TestAllSkipsDroppedDatabase(t *testing.T) {
	for _, kind := range []string{config.KindPostgres, config.KindMySQL} {
		t.Run(kind, func(t *testing.T) {
			srv := server(t, kind)
			kept := dbtest.NewDB(t, srv)
			dbtest.Fill(t, srv, kept, 10)
			admin := dbtest.Open(t, srv, map[string]string{config.KindPostgres: "postgres", config.KindMySQL: ""}[kind])
			cfg := dbtest.SourceConfig(srv)
			cfg.All = true
			src, err := source.New("db", cfg)
			if err != nil {
				t.Fatal(err)
			}
			for attempt := 1; ; attempt++ {
				// Sorted last, so that every other database comes first.
				victim := fmt.Sprintf("zz_backupd_vanish_%d", time.Now().UnixNano())
				dbtest.Exec(t, admin, "CREATE DATABASE "+victim)
				t.Cleanup(func() { admin.Exec("DROP DATABASE IF EXISTS " + victim) })
				var buf bytes.Buffer
				w, err := archive.NewWriter(&buf, archive.Meta{Source: "db", Kind: kind, Started: time.Now()}, archive.Options{})
				if err != nil {
					t.Fatal(err)
				}
				a := &dropOnFirstStream{Writer: w, drop: func() { dbtest.Exec(t, admin, "DROP DATABASE "+victim) }}
				err = src.Dump(context.Background(), a, source.Env{TempDir: t.TempDir()})
				if err != nil && attempt < 3 && !strings.Contains(err.Error(), victim) && !strings.Contains(err.Error(), kept) {
					t.Logf("attempt %d: another test's database got in the way: %v", attempt, err)
					continue
				}
				if err != nil {
					t.Fatalf("dump: %v", err)
				}
				res, err := w.Close()
				if err != nil {
					t.Fatal(err)
				}
				dbs, err := source.DatabasesFromInfo(res.Manifest.Info)
				if err != nil {
					t.Fatal(err)
				}
				if _, ok := dbs[kept]; !ok {
					t.Errorf("manifest databases %v lack %s", keys(dbs), kept)
				}
				if _, ok := dbs[victim]; ok {
					t.Errorf("the dropped database %s is in the manifest's databases", victim)
				}
				if got := fmt.Sprint(res.Manifest.Info[source.SkippedDatabasesKey]); !strings.Contains(got, victim) {
					t.Errorf("info.%s = %s, want it to name %s", source.SkippedDatabasesKey, got, victim)
				}
				return
			}
		})
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
