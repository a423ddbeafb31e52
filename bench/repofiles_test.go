package bench_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/backupd/backupd/internal/domain"
	"github.com/backupd/backupd/internal/testdaemon"
)

// BenchmarkRepoFiles measures issue 14's targets for a files source
// stored in the repository, on a generated tree of about 750 MB in 20,000
// files, 15% of the bytes random and the rest text
// (BACKUPD_BENCH_TREE_MB and BACKUPD_BENCH_TREE_FILES scale it):
//
//   - the first backup, each round into a new daemon and repository,
//     against `tar -cf - | zstd -3 -T0` of the same tree;
//   - the second backup after 1% of the files got new content, against
//     restic 0.18's second backup of the same tree (wall time, and how
//     much each grew its repository directory);
//   - a restore of the whole tree from the store alone (internal/repo in
//     this process: backupctl restore downloads an export, it does not
//     read a repository), against `zstd -dc | tar -x` of the baseline's
//     archive.
func BenchmarkRepoFiles(b *testing.B) {
	for _, tool := range []string{"tar", "zstd"} {
		if _, err := exec.LookPath(tool); err != nil {
			b.Skipf("%s is needed for the baseline: %v", tool, err)
		}
	}
	work := b.TempDir()
	data := filepath.Join(work, "data")
	tree := &mixedTree{seed: 14, total: int64(envInt("BACKUPD_BENCH_TREE_MB", 750)) * 1e6,
		count: envInt("BACKUPD_BENCH_TREE_FILES", 20_000), randomPct: 15}
	start := time.Now()
	genMixedTree(b, data, tree)
	size := dirSize(b, data)
	syscall.Sync()
	b.Logf("generated %d files, %.0f MB (%d%% of the bytes random) in %s; load %s",
		tree.count, float64(size)/1e6, tree.randomPct, time.Since(start).Round(time.Second), loadavg())
	for i := 0; i < b.N; i++ {
		first := benchRepoFirst(b, work, data, size)
		benchRepoSecond(b, first.d, work, data, tree)
		benchRepoRestore(b, first, work, size)
	}
}

// repoRounds is how many times each side of a repository comparison runs.
const repoRounds = 3

// repoFirst is what the first-backup rounds leave: the last round's daemon
// and backup, and the baseline's archive of the same tree.
type repoFirst struct {
	d       *testdaemon.Daemon
	backup  domain.Backup
	archive string
}

func benchRepoFirst(b *testing.B, work, data string, size int64) repoFirst {
	var baseRuns, oursRuns []timedRun
	var first repoFirst
	var stored int64
	first.archive = filepath.Join(work, "base.tar.zst")
	for round := range repoRounds {
		runBase := func() {
			os.Remove(first.archive)
			baseRuns = append(baseRuns, timedCmd(b, "sh", "-c", fmt.Sprintf("tar -cf - -C %s . | zstd -q -3 -T0 -o %s", data, first.archive)))
		}
		runOurs := func() {
			if first.d != nil { // a new repository each round: a first backup
				first.d.Stop()
				os.RemoveAll(first.d.DataDir)
			}
			first.d = startFilesDaemon(b, filepath.Join(work, "daemon"+strconv.Itoa(round)), data)
			cpu0 := procCPU(b, first.d.PID())
			var r timedRun
			r.wall, first.backup = timeBackup(b, first.d, "data")
			r.cpu = procCPU(b, first.d.PID()) - cpu0
			oursRuns = append(oursRuns, r)
			stored = dirSize(b, repoDir(first.d))
		}
		alternate(round, runBase, runOurs)
		b.Logf("first backup, round %d: backupd %s (%.1f s CPU), tar|zstd %s (%.1f s CPU); load %s", round+1,
			oursRuns[round].wall.Round(time.Millisecond), oursRuns[round].cpu.Seconds(),
			baseRuns[round].wall.Round(time.Millisecond), baseRuns[round].cpu.Seconds(), loadavg())
	}
	base, ours := medianRun(baseRuns), medianRun(oursRuns)
	rss, err := first.d.PeakRSS()
	if err != nil {
		b.Fatal(err)
	}
	ratio := base.wall.Seconds() / ours.wall.Seconds()
	b.ReportMetric(float64(size)/ours.wall.Seconds()/1e6, "first-backupd-MB/s")
	b.ReportMetric(float64(size)/base.wall.Seconds()/1e6, "first-tar|zstd-MB/s")
	b.ReportMetric(ratio, "first-throughput-ratio")
	b.ReportMetric(float64(rss)/(1<<20), "first-peak-RSS-MiB")
	b.Logf("first backup of %.0f MB, median of %d: backupd %.0f MB/s (%s, %.1f s CPU, repository %.1f MB, added_bytes %.1f MB), tar|zstd -3 -T0 %.0f MB/s (%s, %.1f s CPU, archive %.1f MB): throughput ratio %.2f (target >= 0.9); peak RSS %.1f MiB",
		float64(size)/1e6, repoRounds, float64(size)/ours.wall.Seconds()/1e6, ours.wall.Round(time.Millisecond), ours.cpu.Seconds(),
		float64(stored)/1e6, float64(first.backup.AddedBytes)/1e6, float64(size)/base.wall.Seconds()/1e6, base.wall.Round(time.Millisecond),
		base.cpu.Seconds(), float64(fileSize(b, first.archive))/1e6, ratio, float64(rss)/(1<<20))
	return first
}

// alternate runs a and b, a first in even rounds: on a shared machine
// whichever goes first in a pair can be favoured.
func alternate(round int, a, b func()) {
	if round%2 == 0 {
		a()
		b()
	} else {
		b()
		a()
	}
}

func startFilesDaemon(b *testing.B, dataDir, path string) *testdaemon.Daemon {
	return testdaemon.Start(b, testdaemon.Options{DataDir: dataDir, Config: fmt.Sprintf(`
sources:
  data:
    kind: files
    path: %s
`, path)})
}

// repoDir is the daemon's repository: <archive_dir>/repo.
func repoDir(d *testdaemon.Daemon) string { return filepath.Join(d.DataDir, "archives", "repo") }

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
