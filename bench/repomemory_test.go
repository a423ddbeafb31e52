package bench_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// BenchmarkRepoMemory measures issue 14's memory target: the daemon's
// peak RSS (VmHWM) while backing up 200,000 small files
// (BACKUPD_BENCH_SMALL_FILES) into a repository that already holds 20
// snapshots of them (BACKUPD_BENCH_SNAPSHOTS), target <= 150 MiB, and
// how it grows with the repository: the same figure for the first backup
// and for one into a repository of 1 snapshot. The daemon is restarted
// before each measured backup, so that its peak is that backup's alone.
// Between backups 0.1% of the files get new content, so each snapshot
// differs from the one before as a real tree's would.
func BenchmarkRepoMemory(b *testing.B) {
	n := envInt("BACKUPD_BENCH_SMALL_FILES", 200_000)
	snaps := envInt("BACKUPD_BENCH_SNAPSHOTS", 20)
	work := b.TempDir()
	data := filepath.Join(work, "data")
	start := time.Now()
	size := genSmallFiles(b, data, n)
	b.Logf("generated %d files, %.0f MB, in %s; load %s", n, float64(size)/1e6, time.Since(start).Round(time.Second), loadavg())
	for i := 0; i < b.N; i++ {
		d := startFilesDaemon(b, filepath.Join(work, "daemon"+strconv.Itoa(i)), data)
		measure := func(held int) float64 {
			if held > 0 {
				touchSmallFiles(b, data, n, held)
				d.Restart()
			}
			wall, bk := timeBackup(b, d, "data")
			rss, err := d.PeakRSS()
			if err != nil {
				b.Fatal(err)
			}
			mib := float64(rss) / (1 << 20)
			b.Logf("backup into a repository of %d snapshots: %s, peak RSS %.1f MiB, added %.1f MB, repository %.1f MB; load %s",
				held, wall.Round(time.Millisecond), mib, float64(bk.AddedBytes)/1e6, float64(dirSize(b, repoDir(d)))/1e6, loadavg())
			return mib
		}
		rss0 := measure(0)
		rss1 := measure(1)
		for held := 2; held < snaps; held++ {
			touchSmallFiles(b, data, n, held)
			timeBackup(b, d, "data")
		}
		rssN := measure(snaps)
		b.ReportMetric(rss0, "peak-RSS-0-MiB")
		b.ReportMetric(rss1, "peak-RSS-1-MiB")
		b.ReportMetric(rssN, fmt.Sprintf("peak-RSS-%d-MiB", snaps))
		b.Logf("%d files: peak RSS %.1f MiB for the first backup, %.1f MiB with 1 snapshot in the repository, %.1f MiB with %d (target <= 150)",
			n, rss0, rss1, rssN, snaps)
	}
}

// genSmallFiles writes n text files of 100 B-4 KiB, 100 per directory,
// and returns their bytes.
func genSmallFiles(b *testing.B, dir string, n int) int64 {
	rng := rand.New(rand.NewPCG(200, 14))
	var total int64
	for i := range n {
		total += writeSmall(b, dir, i, rng)
	}
	return total
}

// touchSmallFiles gives 0.1% of the n files new content, chosen by round.
func touchSmallFiles(b *testing.B, dir string, n, round int) {
	rng := rand.New(rand.NewPCG(201, uint64(round)))
	for range max(1, n/1000) {
		writeSmall(b, dir, rng.IntN(n), rng)
	}
}

func writeSmall(b *testing.B, dir string, i int, rng *rand.Rand) int64 {
	sub := filepath.Join(dir, fmt.Sprintf("s%03d", i/10_000), fmt.Sprintf("t%03d", i/100%100))
	if err := os.MkdirAll(sub, 0o755); err != nil {
		b.Fatal(err)
	}
	size := 100 + rng.IntN(4<<10)
	buf := make([]byte, 0, size+32)
	for len(buf) < size {
		buf = append(buf, words[rng.IntN(len(words))]...)
		buf = append(buf, ' ')
	}
	if err := os.WriteFile(filepath.Join(sub, "f"+strconv.Itoa(i)), buf, 0o644); err != nil {
		b.Fatal(err)
	}
	return int64(len(buf))
}
