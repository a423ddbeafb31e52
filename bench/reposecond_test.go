package bench_test

import (
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/backupd/backupd/internal/testdaemon"
)

// benchRepoSecond backs the tree up again after each of repoRounds
// rewrites of 1% of its files, with backupd (into d's repository, which
// holds the first backup) and restic (whose repository gets its own first
// backup here), and compares wall time and what each added: the growth of
// the repository directory, and for backupd also the API's added_bytes.
func benchRepoSecond(b *testing.B, d *testdaemon.Daemon, work, data string, tree *mixedTree) {
	rs := newRestic(b, work)
	if rs != nil {
		run, grew := rs.backup(b, data)
		b.Logf("restic first backup: %s (%.1f s CPU), repository %.1f MB; load %s",
			run.wall.Round(time.Millisecond), run.cpu.Seconds(), float64(grew)/1e6, loadavg())
	}
	var ours, theirs []timedRun
	var oursGrew, oursAPI, theirsGrew []int64
	for round := range repoRounds {
		changed := rewriteShare(b, data, tree, 1, round)
		syscall.Sync()
		runOurs := func() {
			before := dirSize(b, repoDir(d))
			cpu0 := procCPU(b, d.PID())
			var r timedRun
			wall, bk := timeBackup(b, d, "data")
			r.wall, r.cpu = wall, procCPU(b, d.PID())-cpu0
			ours = append(ours, r)
			oursGrew = append(oursGrew, dirSize(b, repoDir(d))-before)
			oursAPI = append(oursAPI, bk.AddedBytes)
		}
		runRestic := func() {
			if rs == nil {
				return
			}
			r, grew := rs.backup(b, data)
			theirs, theirsGrew = append(theirs, r), append(theirsGrew, grew)
		}
		alternate(round, runOurs, runRestic)
		b.Logf("second backup, round %d (%.2f MB rewritten): backupd %s (%.1f s CPU), repository +%.2f MB, added_bytes %.2f MB; load %s",
			round+1, float64(changed)/1e6, ours[round].wall.Round(time.Millisecond), ours[round].cpu.Seconds(),
			float64(oursGrew[round])/1e6, float64(oursAPI[round])/1e6, loadavg())
		if rs != nil {
			b.Logf("  restic %s (%.1f s CPU), repository +%.2f MB", theirs[round].wall.Round(time.Millisecond),
				theirs[round].cpu.Seconds(), float64(theirsGrew[round])/1e6)
		}
	}
	o := medianRun(ours)
	b.ReportMetric(o.wall.Seconds(), "second-backupd-s")
	b.ReportMetric(float64(medianInt(oursGrew))/1e6, "second-backupd-added-MB")
	if rs == nil {
		b.Logf("second backup, median of %d: backupd %s, repository +%.2f MB (added_bytes %.2f MB); restic comparison skipped",
			repoRounds, o.wall.Round(time.Millisecond), float64(medianInt(oursGrew))/1e6, float64(medianInt(oursAPI))/1e6)
		return
	}
	t := medianRun(theirs)
	wallRatio := o.wall.Seconds() / t.wall.Seconds()
	addedRatio := float64(medianInt(oursGrew)) / float64(medianInt(theirsGrew))
	b.ReportMetric(t.wall.Seconds(), "second-restic-s")
	b.ReportMetric(float64(medianInt(theirsGrew))/1e6, "second-restic-added-MB")
	b.ReportMetric(wallRatio, "second-wall-ratio")
	b.ReportMetric(addedRatio, "second-added-ratio")
	b.Logf("second backup, median of %d: backupd %s (%.1f s CPU), restic %s (%.1f s CPU): wall ratio %.2f (target <= 0.5); added backupd %.2f MB (added_bytes %.2f MB), restic %.2f MB: ratio %.2f (target <= 1.0)",
		repoRounds, o.wall.Round(time.Millisecond), o.cpu.Seconds(), t.wall.Round(time.Millisecond), t.cpu.Seconds(), wallRatio,
		float64(medianInt(oursGrew))/1e6, float64(medianInt(oursAPI))/1e6, float64(medianInt(theirsGrew))/1e6, addedRatio)
}

func medianInt(v []int64) int64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}
