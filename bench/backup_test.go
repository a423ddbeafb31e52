package bench_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/backupd/backupd/internal/client"
	"github.com/backupd/backupd/internal/domain"
	"github.com/backupd/backupd/internal/testdaemon"
)

// BenchmarkBackupFiles backs up a generated ~1 GiB directory through the
// daemon (POST to succeeded) and compares its throughput with
// `tar -cf - DIR | zstd -3 -T0 -o OUT` on the same data, as the median of
// interleaved rounds, with the CPU time of each side; it also reports
// the daemon's peak RSS, and `backupctl download` of the archive against
// `curl -o FILE URL && sha256sum FILE`.
func BenchmarkBackupFiles(b *testing.B) {
	for _, tool := range []string{"tar", "zstd", "curl", "sha256sum"} {
		if _, err := exec.LookPath(tool); err != nil {
			b.Skipf("%s is needed for the baseline: %v", tool, err)
		}
	}
	const total = 1 << 30
	work := b.TempDir()
	data := filepath.Join(work, "data")
	files := genTree(b, data, total)
	size := dirSize(b, data)
	b.Logf("generated %d files, %.2f GiB", files, float64(size)/(1<<30))
	// Write the generated tree out now, so that its writeback does not land
	// on whichever run happens to be going 30 s later.
	syscall.Sync()

	d := testdaemon.Start(b, testdaemon.Options{DataDir: filepath.Join(work, "daemon"), Config: fmt.Sprintf(`
sources:
  data:
    kind: files
    path: %s
`, data)})

	for i := 0; i < b.N; i++ {
		// Rounds alternate which side goes first and the medians are
		// reported: on a shared machine one pair of runs can differ by 2x.
		// CPU seconds are reported too; they vary much less than wall time.
		var baseRuns, oursRuns []timedRun
		var backup domain.Backup
		for round := 0; round < backupRounds; round++ {
			runBase := func() {
				baseRuns = append(baseRuns, timedCmd(b, "sh", "-c", fmt.Sprintf("tar -cf - -C %s . | zstd -q -3 -T0 -o %s", data, filepath.Join(work, "base.tar.zst"))))
				os.Remove(filepath.Join(work, "base.tar.zst"))
			}
			runOurs := func() {
				cpu0 := procCPU(b, d.PID())
				var r timedRun
				r.wall, backup = timeBackup(b, d, "data")
				r.cpu = procCPU(b, d.PID()) - cpu0
				oursRuns = append(oursRuns, r)
			}
			if round%2 == 0 {
				runBase()
				runOurs()
			} else {
				runOurs()
				runBase()
			}
			b.Logf("round %d: backupd %s (%.1f s CPU), tar|zstd %s (%.1f s CPU)", round+1,
				oursRuns[round].wall.Round(time.Millisecond), oursRuns[round].cpu.Seconds(),
				baseRuns[round].wall.Round(time.Millisecond), baseRuns[round].cpu.Seconds())
		}
		base, ours := medianRun(baseRuns), medianRun(oursRuns)
		rss, err := d.PeakRSS()
		if err != nil {
			b.Fatal(err)
		}
		baseMBs := float64(size) / base.wall.Seconds() / 1e6
		oursMBs := float64(size) / ours.wall.Seconds() / 1e6
		b.ReportMetric(oursMBs, "backupd-MB/s")
		b.ReportMetric(baseMBs, "tar|zstd-MB/s")
		b.ReportMetric(oursMBs/baseMBs, "throughput-ratio")
		b.ReportMetric(ours.cpu.Seconds(), "backupd-CPU-s")
		b.ReportMetric(base.cpu.Seconds(), "tar|zstd-CPU-s")
		b.ReportMetric(float64(rss)/(1<<20), "peak-RSS-MiB")
		b.Logf("backup, median of %d: backupd %.0f MB/s (%s, %.1f s CPU, archive %d bytes), tar|zstd -3 -T0 %.0f MB/s (%s, %.1f s CPU): ratio %.2f (target >= 1.0); peak RSS %.1f MiB (target <= 100)",
			backupRounds, oursMBs, ours.wall.Round(time.Millisecond), ours.cpu.Seconds(), backup.SizeBytes,
			baseMBs, base.wall.Round(time.Millisecond), base.cpu.Seconds(), oursMBs/baseMBs, float64(rss)/(1<<20))

		benchDownload(b, d, backup, work)
	}
}

// backupRounds is how many times each side of the backup comparison runs.
const backupRounds = 3

// timedRun is one timed run: wall-clock and CPU (user+system) time.
type timedRun struct{ wall, cpu time.Duration }

// medianRun returns the median wall and the median CPU time of runs, each
// taken separately.
func medianRun(runs []timedRun) timedRun {
	walls := make([]time.Duration, len(runs))
	cpus := make([]time.Duration, len(runs))
	for i, r := range runs {
		walls[i], cpus[i] = r.wall, r.cpu
	}
	slices.Sort(walls)
	slices.Sort(cpus)
	return timedRun{wall: walls[len(walls)/2], cpu: cpus[len(cpus)/2]}
}

// timedCmd runs a command and returns its wall time and the CPU time of it
// and of the children it waited for (tar and zstd under sh).
func timedCmd(b *testing.B, name string, args ...string) timedRun {
	start := time.Now()
	cmd := exec.Command(name, args...)
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return timedRun{wall: time.Since(start), cpu: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()}
}

// benchDownload times each side twice, alternating, and keeps the best of
// each, so that a page-cache warm-up favours neither.
func benchDownload(b *testing.B, d *testdaemon.Daemon, backup domain.Backup, work string) {
	url := d.URL + "/api/v1/backups/" + strconv.FormatInt(backup.ID, 10) + "/archive"
	dest := filepath.Join(work, "dl.tar.zst")
	var ours, curl time.Duration
	for round := 0; round < 2; round++ {
		os.Remove(dest)
		c := timeCmd(b, "sh", "-c", fmt.Sprintf("curl -sS -o %s %s && sha256sum %s >/dev/null", dest, url, dest))
		os.Remove(dest)
		start := time.Now()
		if _, errOut, code := d.Backupctl(context.Background(), "download", strconv.FormatInt(backup.ID, 10), "-o", dest); code != 0 {
			b.Fatalf("backupctl download: exit %d: %s", code, errOut)
		}
		o := time.Since(start)
		if round == 0 || o < ours {
			ours = o
		}
		if round == 0 || c < curl {
			curl = c
		}
	}
	os.Remove(dest)
	ratio := ours.Seconds() / curl.Seconds()
	b.ReportMetric(ratio, "download-time-ratio")
	b.Logf("download of %d bytes: backupctl (resumable, verified) %s, curl -o && sha256sum %s: time ratio %.2f (target <= 1.0)",
		backup.SizeBytes, ours.Round(time.Millisecond), curl.Round(time.Millisecond), ratio)
}

// timeBackup runs one backup of source and returns the time from the POST
// to its final event. The event arrives over the WebSocket, so nothing
// polls the daemon while it works: polling every 10 ms cost it about 1% of
// a backup's CPU, which the baseline does not pay.
func timeBackup(b *testing.B, d *testdaemon.Daemon, source string) (time.Duration, domain.Backup) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	ended := make(chan int64, 16) // ids of backups whose final event came
	tailDone := make(chan error, 1)
	head := wsHead(b, d.URL) // before the POST: the tail replays from here
	go func() {
		tailDone <- d.Client().Tail(ctx, client.TailOptions{Since: head, Sources: []string{source},
			Types: []string{domain.EventBackupSucceeded, domain.EventBackupFailed, domain.EventBackupCanceled}},
			func(ev domain.Event) error {
				ended <- ev.BackupID
				return nil
			})
	}()
	start := time.Now()
	bk, err := d.Client().CreateBackup(ctx, source)
	if err != nil {
		b.Fatal(err)
	}
	for id := int64(0); id != bk.ID; {
		select {
		case id = <-ended:
		case err := <-tailDone:
			b.Fatalf("event stream ended before backup %d did: %v", bk.ID, err)
		}
	}
	elapsed := time.Since(start)
	cur, err := d.Client().Backup(ctx, bk.ID)
	if err != nil {
		b.Fatal(err)
	}
	if cur.Status != domain.StatusSucceeded {
		b.Fatalf("backup %s: %s", cur.Status, cur.Error)
	}
	return elapsed, cur
}

func timeCmd(b *testing.B, name string, args ...string) time.Duration {
	start := time.Now()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		b.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return time.Since(start)
}

func dirSize(b *testing.B, dir string) int64 {
	var n int64
	err := filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err == nil && info.Mode().IsRegular() {
			n += info.Size()
		}
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	return n
}
