package main_test

import (
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"

	"github.com/backupd/backupd/internal/config"
	"github.com/backupd/backupd/internal/dbtest"
	"github.com/backupd/backupd/internal/domain"
	"github.com/backupd/backupd/internal/source"
	"github.com/backupd/backupd/internal/testdaemon"
)

// ctl runs backupctl and fails t unless it exits with want.
func ctl(t *testing.T, d *testdaemon.Daemon, want int, args ...string) (string, string) {
	t.Helper()
	out, errOut, code := d.Backupctl(context.Background(), args...)
	if code != want {
		t.Fatalf("backupctl %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, want, out, errOut)
	}
	return out, errOut
}

// TestRestoreAndVerifyLocalKinds round-trips a files, a sqlite and a
// command backup through `backupctl restore --to`, drills each with
// `backupctl verify`, and checks that a flipped byte and a truncated
// pack in the repository fail the drill with the reason recorded.
func TestRestoreAndVerifyLocalKinds(t *testing.T) {
	tree := t.TempDir()
	os.MkdirAll(filepath.Join(tree, "sub", "deeper"), 0o755)
	os.WriteFile(filepath.Join(tree, "a.txt"), []byte("alpha ✓\n"), 0o644)
	os.WriteFile(filepath.Join(tree, "sub", "deeper", "b.bin"), []byte{0, 1, 2, 255}, 0o600)
	os.Symlink("a.txt", filepath.Join(tree, "link"))
	lite := filepath.Join(t.TempDir(), "app.db")
	db, err := sql.Open("sqlite3", lite)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);
		WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 1000)
		INSERT INTO t SELECT i, 'row ' || i FROM s`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	d := testdaemon.Start(t, testdaemon.Options{Config: fmt.Sprintf(`
sources:
  tree: {kind: files, path: %q}
  lite: {kind: sqlite, path: %q}
  out: {kind: command, command: ["printf", "hello\n"]}
`, tree, lite)})
	arch := t.TempDir()

	ids := map[string]int64{}
	stored := map[string][]string{} // the packs each backup added
	for _, name := range []string{"tree", "lite", "out"} {
		before := packs(t, d)
		b := runBackup(t, d, name)
		ids[name] = b.ID
		for _, p := range packs(t, d) {
			if !slices.Contains(before, p) {
				stored[name] = append(stored[name], p)
			}
		}
		if len(stored[name]) == 0 {
			t.Fatalf("backup %d of %s stored no pack", b.ID, name)
		}
		to := filepath.Join(t.TempDir(), "restored")
		ctl(t, d, 0, "restore", fmt.Sprint(b.ID), "--to", to, "--archive", arch)
		switch name {
		case "tree":
			if got, _ := os.ReadFile(filepath.Join(to, "sub", "deeper", "b.bin")); string(got) != "\x00\x01\x02\xff" {
				t.Errorf("restored b.bin = %q", got)
			}
			if l, _ := os.Readlink(filepath.Join(to, "link")); l != "a.txt" {
				t.Errorf("restored link -> %q", l)
			}
		case "lite":
			rdb, err := sql.Open("sqlite3", filepath.Join(to, "app.db"))
			if err != nil {
				t.Fatal(err)
			}
			var n int
			if err := rdb.QueryRow(`SELECT count(*) FROM t`).Scan(&n); err != nil || n != 1000 {
				t.Errorf("restored sqlite: %d rows, %v", n, err)
			}
			rdb.Close()
		case "out":
			if got, _ := os.ReadFile(filepath.Join(to, "stdout")); string(got) != "hello\n" {
				t.Errorf("restored stdout = %q", got)
			}
		}
		out, _ := ctl(t, d, 0, "verify", fmt.Sprint(b.ID))
		if !strings.Contains(out, "passed") {
			t.Errorf("verify %s: %s", name, out)
		}
		// A second restore reuses the verified download.
		_, errOut := ctl(t, d, 0, "restore", fmt.Sprint(b.ID), "--to", to+"2", "--archive", arch)
		if !strings.Contains(errOut, "already here and verified") {
			t.Errorf("second restore downloaded again: %s", errOut)
		}
	}

	// Damage the pack a backup stored, in the repository the drill reads.
	damage := func(name string, how func(path string)) (domain.Backup, string) {
		t.Helper()
		pack := stored[name][0]
		how(filepath.Join(repoDir(d), filepath.FromSlash(pack)))
		_, errOut := ctl(t, d, 1, "verify", fmt.Sprint(ids[name]))
		if !strings.Contains(errOut, "restore drill of backup") {
			t.Errorf("verify of a damaged backup says: %s", errOut)
		}
		b, err := d.Client().Backup(context.Background(), ids[name])
		if err != nil {
			t.Fatal(err)
		}
		if b.VerifyStatus != "failed" || b.VerifiedAt == nil {
			t.Errorf("damaged backup: verify_status %q at %v", b.VerifyStatus, b.VerifiedAt)
		}
		return b, path.Base(pack)
	}
	flipped, pack := damage("tree", func(p string) {
		data, _ := os.ReadFile(p)
		data[blobsEnd(t, data)/2] ^= 0x40 // in a chunk, not the pack's header
		os.WriteFile(p, data, 0o640)
	})
	if !strings.Contains(flipped.VerifyError, "in pack "+pack) {
		t.Errorf("flipped byte: verify_error %q does not name pack %s", flipped.VerifyError, pack)
	}
	truncated, pack := damage("lite", func(p string) {
		fi, _ := os.Stat(p)
		os.Truncate(p, fi.Size()/2)
	})
	if !strings.Contains(truncated.VerifyError, pack) || !strings.Contains(truncated.VerifyError, "truncated") {
		t.Errorf("truncated pack %s: verify_error %q", pack, truncated.VerifyError)
	}
	events, err := d.Client().Events(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	verified := 0
	for _, e := range events {
		if e.Type == domain.EventBackupVerified {
			verified++
		}
	}
	if verified != 5 {
		t.Errorf("%d backup.verified events, want 5", verified)
	}
	ctl(t, d, 2, "restore", fmt.Sprint(ids["out"]))
}

// blobsEnd is where the chunks of a pack end and its header begins: its
// 24-byte trailer holds the lengths of the header and the key envelope
// (docs/repository.md).
func blobsEnd(t *testing.T, pack []byte) int {
	t.Helper()
	tr := pack[len(pack)-24:]
	if string(tr[:8]) != "bkpdpack" {
		t.Fatalf("no pack trailer: %q", tr)
	}
	return len(pack) - 24 - int(binary.LittleEndian.Uint32(tr[12:])) - int(binary.LittleEndian.Uint32(tr[16:]))
}

// TestRestoreDatabases backs up a PostgreSQL and a MariaDB database with
// verify: true, waits for the drill, and loads each backup into a new
// database with `backupctl restore --to-dsn`, which must refuse a
// non-empty target without --force.
func TestRestoreDatabases(t *testing.T) {
	for _, kind := range []string{config.KindPostgres, config.KindMySQL} {
		t.Run(kind, func(t *testing.T) {
			srv := dbServer(t, kind)
			db := dbtest.NewDB(t, srv)
			dbtest.Fill(t, srv, db, 5000)
			d := testdaemon.Start(t, testdaemon.Options{Config: fmt.Sprintf(`
sources:
  db: {kind: %s, host: %s, port: %d, user: %s, databases: [%s], verify: true}
`, kind, srv.Host, srv.Port, srv.User, db)})
			b := runBackup(t, d, "db")
			b = waitVerified(t, d, b, 2*time.Minute)
			if b.VerifyStatus != "passed" {
				t.Fatalf("drill after backup: %q %q", b.VerifyStatus, b.VerifyError)
			}

			target := dbtest.NewDB(t, srv)
			dsn := fmt.Sprintf("%s://%s@%s/%s", map[string]string{config.KindPostgres: "postgres", config.KindMySQL: "mysql"}[kind], srv.User, srv.Addr(), target)
			arch := t.TempDir()
			ctl(t, d, 0, "restore", fmt.Sprint(b.ID), "--to-dsn", dsn, "--archive", arch)
			orig, restored := dbtest.Open(t, srv, db), dbtest.Open(t, srv, target)
			for _, table := range dbtest.Tables {
				if a, b := dbtest.Checksum(t, srv, orig, table, 0), dbtest.Checksum(t, srv, restored, table, 0); a != b {
					t.Errorf("%s: original %s, restored %s", table, a, b)
				}
			}
			dbtest.CheckObjects(t, srv, restored)

			_, errOut := ctl(t, d, 1, "restore", fmt.Sprint(b.ID), "--to-dsn", dsn, "--archive", arch)
			if !strings.Contains(errOut, "is not empty") {
				t.Errorf("restore into a non-empty database says: %s", errOut)
			}
			ctl(t, d, 0, "restore", fmt.Sprint(b.ID), "--to-dsn", dsn, "--archive", arch, "--force")
			to := t.TempDir()
			ctl(t, d, 0, "restore", fmt.Sprint(b.ID), "--to", to, "--archive", arch)
			if _, err := os.Stat(filepath.Join(to, db+map[string]string{config.KindPostgres: ".pgdump", config.KindMySQL: ".sql"}[kind])); err != nil {
				t.Errorf("--to of a database backup: %v", err)
			}
		})
	}
}

// TestDrillSystemDatabase drills a backup of the server's own database
// (mysql, postgres) beside a user database: what `all: true` includes. The
// mysql database's log and registry tables are dumped as CREATE TABLE IF
// NOT EXISTS, and the drill must find them in the manifest.
func TestDrillSystemDatabase(t *testing.T) {
	for kind, system := range map[string]string{config.KindPostgres: "postgres", config.KindMySQL: "mysql"} {
		t.Run(kind, func(t *testing.T) {
			srv := dbServer(t, kind)
			db := dbtest.NewDB(t, srv)
			dbtest.Fill(t, srv, db, 100)
			d := testdaemon.Start(t, testdaemon.Options{Config: fmt.Sprintf(`
sources:
  db: {kind: %s, host: %s, port: %d, user: %s, databases: [%s, %s]}
`, kind, srv.Host, srv.Port, srv.User, system, db)})
			b := runBackup(t, d, "db")
			out, errOut, code := d.Backupctl(context.Background(), "verify", fmt.Sprint(b.ID))
			if code != 0 {
				t.Fatalf("drill: exit %d\n%s%s", code, out, errOut)
			}
		})
	}
}

// dbServer is the test server of a database kind (skipped, or failed under
// CI=true, when it is not running).
func dbServer(t *testing.T, kind string) source.Server {
	if kind == config.KindPostgres {
		return dbtest.Postgres(t)
	}
	return dbtest.MySQL(t)
}
