package bench_test

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/backupd/backupd/internal/config"
	"github.com/backupd/backupd/internal/dbtest"
	"github.com/backupd/backupd/internal/domain"
	"github.com/backupd/backupd/internal/source"
	"github.com/backupd/backupd/internal/testdaemon"
)

// dbRows is how many rows make about 1 GiB of table data (~270 bytes on
// disk per row in either engine).
const dbRows = 4_000_000

// BenchmarkBackupPostgres backs up a ~1 GiB PostgreSQL database through
// the daemon (POST to succeeded: pg_dump -Fc -Z0, zstd, row counts in the
// dump's snapshot) and compares the time with `pg_dump -Fc -f FILE` alone.
func BenchmarkBackupPostgres(b *testing.B) {
	benchDatabase(b, dbtest.Postgres(b), func(srv source.Server, db, out string) string {
		return fmt.Sprintf("pg_dump -Fc -h %s -p %d -U %s -d %s -f %s", srv.Host, srv.Port, srv.User, db, out)
	}, "pg_dump -Fc")
}

// BenchmarkBackupMySQL does the same for MariaDB against
// `mariadb-dump --single-transaction ... DB | zstd -3`.
func BenchmarkBackupMySQL(b *testing.B) {
	benchDatabase(b, dbtest.MySQL(b), func(srv source.Server, db, out string) string {
		return fmt.Sprintf("mariadb-dump -h %s -P %d -u %s --protocol=TCP %s %s | zstd -q -3 -o %s",
			srv.Host, srv.Port, srv.User, strings.Join(source.MySQLDumpFlags, " "), db, out)
	}, "mariadb-dump|zstd -3")
}

func benchDatabase(b *testing.B, srv source.Server, baseline func(srv source.Server, db, out string) string, baseName string) {
	db := dbtest.NewDB(b, srv)
	conn := dbtest.Open(b, srv, db)
	start := time.Now()
	size := generate(b, srv, conn, db, dbRows)
	b.Logf("generated %s database %s: %.2f GiB in %s", srv.Kind, db, float64(size)/(1<<30), time.Since(start).Round(time.Second))
	start = time.Now()
	settle(b, srv, conn)
	b.Logf("the server wrote its dirty pages out in %s", time.Since(start).Round(time.Second))

	work := b.TempDir()
	d := testdaemon.Start(b, testdaemon.Options{DataDir: filepath.Join(work, "daemon"), Config: fmt.Sprintf(`
sources:
  db: {kind: %s, host: %s, port: %d, user: %s, databases: [%s]}
`, srv.Kind, srv.Host, srv.Port, srv.User, db)})
	out := filepath.Join(work, "baseline.out")
	for i := 0; i < b.N; i++ {
		// Rounds alternate which side goes first, as for the directory
		// backup, and the medians are compared: one pair of runs on this
		// shared machine can differ by 20% either way.
		var baseRuns, oursRuns []timedRun
		var baseSize int64
		var backup domain.Backup
		for round := 0; round < backupRounds; round++ {
			runBase := func() {
				baseRuns = append(baseRuns, timedCmd(b, "sh", "-c", baseline(srv, db, out)))
				baseSize = fileSize(b, out)
				os.Remove(out)
			}
			runOurs := func() {
				var r timedRun
				r.wall, backup = timeBackup(b, d, "db")
				oursRuns = append(oursRuns, r)
			}
			if round%2 == 0 {
				runBase() // the first run pays for warming the caches
				runOurs()
			} else {
				runOurs()
				runBase()
			}
			b.Logf("round %d: backupd %s, %s %s", round+1, oursRuns[round].wall.Round(time.Millisecond),
				baseName, baseRuns[round].wall.Round(time.Millisecond))
		}
		base, ours := medianRun(baseRuns).wall, medianRun(oursRuns).wall
		ratio := ours.Seconds() / base.Seconds()
		b.ReportMetric(base.Seconds(), "baseline-s")
		b.ReportMetric(ours.Seconds(), "backupd-s")
		b.ReportMetric(ratio, "time-ratio")
		b.Logf("%s database of %.2f GiB, median of %d: backupd %s (archive %.1f MiB), %s %s (output %.1f MiB): time ratio %.2f (target <= 1.0)",
			srv.Kind, float64(size)/(1<<30), backupRounds, ours.Round(time.Millisecond), float64(backup.SizeBytes)/(1<<20),
			baseName, base.Round(time.Millisecond), float64(baseSize)/(1<<20), ratio)
	}
}

// generate fills db with rows rows server-side (dbRows make about 1 GiB)
// and returns its size.
func generate(b *testing.B, srv source.Server, conn *sql.DB, db string, rows int) int64 {
	var size int64
	if srv.Kind == config.KindPostgres {
		dbtest.Exec(b, conn,
			`CREATE TABLE big (id bigint PRIMARY KEY, name text, payload text, amount numeric(12,2), at timestamptz)`,
			fmt.Sprintf(`INSERT INTO big SELECT i, 'name-' || md5(i::text),
				repeat(md5(i::text) || md5((i * 7)::text), 3), i / 100.0, now() - i * interval '1 second'
				FROM generate_series(1, %d) i`, rows),
			`VACUUM ANALYZE big`)
		if err := conn.QueryRow(`SELECT pg_database_size(current_database())`).Scan(&size); err != nil {
			b.Fatal(err)
		}
		return size
	}
	dbtest.Exec(b, conn,
		`CREATE TABLE big (id bigint PRIMARY KEY, name varchar(40), payload text, amount decimal(12,2), at datetime)`,
		fmt.Sprintf(`SET STATEMENT max_recursive_iterations = 100000000 FOR INSERT INTO big
			WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < %d)
			SELECT i, CONCAT('name-', MD5(i)), REPEAT(CONCAT(MD5(i), MD5(i * 7)), 3), i / 100,
			NOW() - INTERVAL i SECOND FROM s`, rows))
	if err := conn.QueryRow(`SELECT SUM(data_length + index_length) FROM information_schema.tables WHERE table_schema = ?`, db).Scan(&size); err != nil {
		b.Fatal(err)
	}
	return size
}

// settle has the server write out what generating the data left dirty,
// and the kernel too, so that neither does it during whichever run happens
// to come next (as the directory backup syncs its generated tree).
func settle(b *testing.B, srv source.Server, conn *sql.DB) {
	if srv.Kind == config.KindPostgres {
		dbtest.Exec(b, conn, `CHECKPOINT`)
	} else {
		var pct string
		if err := conn.QueryRow(`SELECT @@GLOBAL.innodb_max_dirty_pages_pct`).Scan(&pct); err != nil {
			b.Fatal(err)
		}
		dbtest.Exec(b, conn, `SET GLOBAL innodb_max_dirty_pages_pct = 0`)
		defer dbtest.Exec(b, conn, `SET GLOBAL innodb_max_dirty_pages_pct = `+pct)
		for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(100 * time.Millisecond) {
			var name string
			var dirty int64
			if err := conn.QueryRow(`SHOW GLOBAL STATUS LIKE 'Innodb_buffer_pool_pages_dirty'`).Scan(&name, &dirty); err != nil {
				b.Fatal(err)
			}
			if dirty == 0 || time.Now().After(deadline) {
				if dirty > 0 {
					b.Logf("MariaDB still has %d dirty pages after 2 minutes; measuring anyway", dirty)
				}
				break
			}
		}
	}
	syscall.Sync()
}

func fileSize(b *testing.B, path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	return fi.Size()
}
