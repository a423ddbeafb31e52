package bench_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/backupd/backupd/internal/dbtest"
	"github.com/backupd/backupd/internal/restore"
	"github.com/backupd/backupd/internal/testdaemon"
)

// restoreRows makes a PostgreSQL database of about 200 MiB.
const restoreRows = 700_000

// BenchmarkRestorePostgres loads a ~200 MiB PostgreSQL database's backup
// into a new database with `backupctl restore --to-dsn` (the export
// streamed from the daemon through zstd and tar into pg_restore), and
// with --repo (streamed from the repository), and compares each with
// `pg_restore` of the same dump file, already on disk. The first restore
// through the daemon also builds the export, and is reported apart.
func BenchmarkRestorePostgres(b *testing.B) {
	srv := dbtest.Postgres(b)
	db := dbtest.NewDB(b, srv)
	conn := dbtest.Open(b, srv, db)
	dbtest.Exec(b, conn,
		`CREATE TABLE big (id bigint PRIMARY KEY, name text, payload text, amount numeric(12,2), at timestamptz)`,
		fmt.Sprintf(`INSERT INTO big SELECT i, 'name-' || md5(i::text),
			repeat(md5(i::text) || md5((i * 7)::text), 3), i / 100.0, now() - i * interval '1 second'
			FROM generate_series(1, %d) i`, restoreRows),
		`CREATE INDEX big_name ON big (name)`, `VACUUM ANALYZE big`)
	var size int64
	if err := conn.QueryRow(`SELECT pg_database_size(current_database())`).Scan(&size); err != nil {
		b.Fatal(err)
	}
	settle(b, srv, conn)

	work := b.TempDir()
	data := filepath.Join(work, "daemon")
	d := testdaemon.Start(b, testdaemon.Options{DataDir: data, Config: fmt.Sprintf(`
sources:
  db: {kind: postgres, host: %s, port: %d, user: %s, databases: [%s]}
`, srv.Host, srv.Port, srv.User, db)})
	_, backup := timeBackup(b, d, "db")
	id := fmt.Sprint(backup.ID)
	dumps := filepath.Join(work, "dumps")
	if out, errOut, code := d.Backupctl(b.Context(), "restore", id, "--to", dumps); code != 0 {
		b.Fatalf("restore --to: %s%s", out, errOut)
	}
	dump := filepath.Join(dumps, db+".pgdump")
	b.Logf("database %s: %.0f MiB on the server, dump %.0f MiB, %.0f MiB added to the repository",
		db, float64(size)/(1<<20), float64(fileSize(b, dump))/(1<<20), float64(backup.AddedBytes)/(1<<20))
	// The restore --to above built the export; a restore that has to
	// build it is timed on a second backup.
	_, fresh := timeBackup(b, d, "db")

	target := func(b *testing.B) (string, string) {
		name := fmt.Sprintf("backupd_bench_restore_%d", time.Now().UnixNano())
		if err := restore.CreateDatabase(b.Context(), srv, name); err != nil {
			b.Fatal(err)
		}
		return name, fmt.Sprintf("postgres://%s@%s/%s", srv.User, srv.Addr(), name)
	}
	drop := func(name string) {
		if err := restore.DropDatabase(b.Context(), srv, name); err != nil {
			b.Fatal(err)
		}
	}
	_, ctl := testdaemon.Binaries(b)
	env := "BACKUPD_URL=" + d.URL
	sides := []struct {
		name string
		cmd  func(dsn, name string) string
	}{
		{"pg_restore FILE", func(_, name string) string {
			return fmt.Sprintf("pg_restore --no-owner --no-privileges --exit-on-error -h %s -p %d -U %s -d %s %s", srv.Host, srv.Port, srv.User, name, dump)
		}},
		{"backupctl restore --to-dsn", func(dsn, _ string) string {
			return fmt.Sprintf("%s %s restore %s --to-dsn %s", env, ctl, id, dsn)
		}},
		{"backupctl restore --to-dsn --repo", func(dsn, _ string) string {
			return fmt.Sprintf("%s restore %s --to-dsn %s --repo %s", ctl, id, dsn, filepath.Join(data, "archives"))
		}},
	}
	for i := 0; i < b.N; i++ {
		name, dsn := target(b)
		first := timedCmd(b, "sh", "-c", fmt.Sprintf("%s %s restore %d --to-dsn %s", env, ctl, fresh.ID, dsn))
		drop(name)
		runs := make([][]timedRun, len(sides))
		for round := 0; round < backupRounds; round++ {
			for k := range sides {
				s := (k + round) % len(sides) // each side goes first once
				name, dsn := target(b)
				runs[s] = append(runs[s], timedCmd(b, "sh", "-c", sides[s].cmd(dsn, name)))
				drop(name)
			}
		}
		base := medianRun(runs[0]).wall
		b.ReportMetric(base.Seconds(), "pg_restore-s")
		for s := 1; s < len(sides); s++ {
			m := medianRun(runs[s]).wall
			b.ReportMetric(m.Seconds()/base.Seconds(), fmt.Sprintf("ratio-%d", s))
			b.Logf("%s: median of %d %s, %s %s: time ratio %.2f (target < 1.5)", sides[s].name, backupRounds,
				m.Round(time.Millisecond), sides[0].name, base.Round(time.Millisecond), m.Seconds()/base.Seconds())
		}
		b.Logf("the first restore of a backup, which builds its export: %s (ratio %.2f)", first.wall.Round(time.Millisecond), first.wall.Seconds()/base.Seconds())
	}
	os.RemoveAll(dumps)
}
