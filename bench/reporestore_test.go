package bench_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/backupd/backupd/internal/repo"
)

// benchRepoRestore restores the first backup's whole tree from the store
// alone (repo.Open on <archive_dir>/repo with no index: it lists the packs
// and reads their headers, as a disaster recovery would) against
// `zstd -dc | tar -x` of the baseline's archive of the same tree. Neither
// side syncs; the page cache is flushed before each run so that neither
// pays for the other's writeback.
func benchRepoRestore(b *testing.B, first repoFirst, work string, size int64) {
	dst := filepath.Join(work, "restore")
	var ours, base []timedRun
	for round := range repoRounds {
		runOurs := func() {
			clean(b, dst)
			start := time.Now()
			restoreStore(b, repoDir(first.d), first.backup.Snapshot, dst)
			ours = append(ours, timedRun{wall: time.Since(start)})
			if got := dirSize(b, dst); got != size {
				b.Fatalf("restored %d bytes of %d", got, size)
			}
		}
		runBase := func() {
			clean(b, dst)
			os.MkdirAll(dst, 0o755)
			base = append(base, timedCmd(b, "sh", "-c", fmt.Sprintf("zstd -dc %s | tar -x -C %s", first.archive, dst)))
		}
		alternate(round, runOurs, runBase)
		b.Logf("restore, round %d: backupd %s, zstd -dc | tar -x %s; load %s", round+1,
			ours[round].wall.Round(time.Millisecond), base[round].wall.Round(time.Millisecond), loadavg())
	}
	clean(b, dst)
	o, t := medianRun(ours), medianRun(base)
	ratio := o.wall.Seconds() / t.wall.Seconds()
	b.ReportMetric(float64(size)/o.wall.Seconds()/1e6, "restore-backupd-MB/s")
	b.ReportMetric(float64(size)/t.wall.Seconds()/1e6, "restore-zstd|tar-MB/s")
	b.ReportMetric(ratio, "restore-time-ratio")
	b.Logf("restore of %.0f MB, median of %d: backupd (repository library, from the store) %s, zstd -dc | tar -x %s: time ratio %.2f (target <= 1.25)",
		float64(size)/1e6, repoRounds, o.wall.Round(time.Millisecond), t.wall.Round(time.Millisecond), ratio)
}

func clean(b *testing.B, dir string) {
	if err := os.RemoveAll(dir); err != nil {
		b.Fatal(err)
	}
	syscall.Sync()
}

// restoreStore restores snapshot id from the local repository at dir
// into dst, reading nothing but the store.
func restoreStore(b *testing.B, dir, id, dst string) {
	ctx := context.Background()
	be, err := repo.NewLocal(dir)
	if err != nil {
		b.Fatal(err)
	}
	r, err := repo.Open(ctx, be, repo.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	sid, err := repo.ParseID(id)
	if err != nil {
		b.Fatal(err)
	}
	s, err := r.Snapshot(ctx, sid)
	if err != nil {
		b.Fatal(err)
	}
	if err := r.Restore(ctx, s, dst, repo.RestoreOptions{}); err != nil {
		b.Fatal(err)
	}
}
