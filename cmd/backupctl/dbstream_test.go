package main_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/backupd/backupd/internal/config"
	"github.com/backupd/backupd/internal/dbtest"
	"github.com/backupd/backupd/internal/source"
	"github.com/backupd/backupd/internal/testdaemon"
)

// restore --to-dsn streams the dump into pg_restore or mariadb: from the
// download, with no --archive file and nothing left in $TMPDIR, and,
// with the daemon and its data_dir gone, from a copy of the repository.
// Each load has the original's rows and objects.
func TestRestoreDatabaseStreamed(t *testing.T) {
	for _, kind := range []string{config.KindPostgres, config.KindMySQL} {
		t.Run(kind, func(t *testing.T) {
			var srv source.Server
			if kind == config.KindPostgres {
				srv = dbtest.Postgres(t)
			} else {
				srv = dbtest.MySQL(t)
			}
			db := dbtest.NewDB(t, srv)
			dbtest.Fill(t, srv, db, 3000)
			other := dbtest.NewDB(t, srv)
			dbtest.Fill(t, srv, other, 10)
			data := t.TempDir()
			d := testdaemon.Start(t, testdaemon.Options{DataDir: data, Config: fmt.Sprintf(
				"sources:\n  db: {kind: %s, host: %s, port: %d, user: %s, databases: [%s, %s]}\n", kind, srv.Host, srv.Port, srv.User, db, other)})
			b := succeeded(t, d, "db")
			scheme := map[string]string{config.KindPostgres: "postgres", config.KindMySQL: "mysql"}[kind]
			dsn := func(target string) string { return fmt.Sprintf("%s://%s@%s/%s", scheme, srv.User, srv.Addr(), target) }
			same := func(target string) {
				t.Helper()
				orig, restored := dbtest.Open(t, srv, db), dbtest.Open(t, srv, target)
				for _, table := range dbtest.Tables {
					if a, b := dbtest.Checksum(t, srv, orig, table, 0), dbtest.Checksum(t, srv, restored, table, 0); a != b {
						t.Errorf("%s: original %s, restored %s", table, a, b)
					}
				}
				dbtest.CheckObjects(t, srv, restored)
			}

			if _, errOut := ctl(t, d, 2, "restore", fmt.Sprint(b.ID), "--to-dsn", dsn(dbtest.NewDB(t, srv))); !strings.Contains(errOut, "several databases") {
				t.Errorf("restore of two databases without --database: %s", errOut)
			}
			target := dbtest.NewDB(t, srv)
			tmp := t.TempDir()
			backupctlEnv(t, []string{"BACKUPD_URL=" + d.URL, "TMPDIR=" + tmp}, 0, "restore", fmt.Sprint(b.ID), "--to-dsn", dsn(target), "--database", db)
			same(target)
			if left, _ := os.ReadDir(tmp); len(left) != 0 {
				t.Errorf("restore left %v in $TMPDIR", left)
			}
			if _, errOut := ctl(t, d, 1, "restore", fmt.Sprint(b.ID), "--to-dsn", dsn(target), "--database", db); !strings.Contains(errOut, "is not empty") {
				t.Errorf("restore into a non-empty database: %s", errOut)
			}

			d.Stop()
			saved := copyDir(t, filepath.Join(data, "archives", "repo"))
			os.RemoveAll(data)
			target2 := dbtest.NewDB(t, srv)
			backupctlEnv(t, nil, 0, "restore", fmt.Sprint(b.ID), "--to-dsn", dsn(target2), "--database", db, "--repo", saved)
			same(target2)
		})
	}
}
