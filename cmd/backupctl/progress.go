package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/backupd/backupd/internal/domain"
)

// isTerminal reports whether w is a terminal: progress bars are drawn only
// there, so logs and pipes get plain lines.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// newBar returns a byte progress bar on stderr, or nil off a terminal.
// total -1 draws a spinner with a byte count (the size of a running
// backup is not known in advance). Sizes are IEC (KiB, MiB), as
// everywhere in backupctl's output.
func (a *app) newBar(total int64, what string) *progressbar.ProgressBar {
	if !isTerminal(a.stderr) {
		return nil
	}
	return drawBar(a.stderr, total, what)
}

func drawBar(w io.Writer, total int64, what string) *progressbar.ProgressBar {
	return progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(what),
		progressbar.OptionShowBytes(true),
		progressbar.OptionUseIECUnits(true),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100_000_000), // 100 ms
		progressbar.OptionShowCount(),
		progressbar.OptionOnCompletion(func() { io.WriteString(w, "\n") }),
		progressbar.OptionSpinnerType(14),
		progressbar.OptionFullWidth(),
	)
}

// downloadTotal is what a download of b will send, for a bar drawn before
// it starts: a repository backup's size_bytes is what it read from its
// source, not its export, whose size is known (export_bytes) only once a
// download has built it; -1 (a spinner) until then.
func downloadTotal(b domain.Backup) int64 {
	if n := b.DownloadSize(); n > 0 {
		return n
	}
	return -1
}

// setBar moves a download's bar (nil off a terminal) to done of total,
// the total the client got from the response's Content-Length; 0 when
// it had none, which keeps the bar's own.
func setBar(bar *progressbar.ProgressBar, done, total int64) {
	if bar == nil {
		return
	}
	if total > 0 && bar.GetMax64() != total {
		bar.ChangeMax64(total)
	}
	bar.Set64(done)
}

// backupProgress shows a running backup for run --wait: on a terminal a
// spinner with the bytes read, the rate and, when the source has backed
// up before, an estimate of how far along it is; elsewhere one line per
// status change.
type backupProgress struct {
	a    *app
	bar  *progressbar.ProgressBar // nil off a terminal
	name string                   // "backup 12 of docs"
	// prev is the size of the source's newest succeeded backup, 0 if
	// there is none: what the estimate is made from.
	prev int64
	last domain.Status
	// done is the most bytes seen read: the server stops reporting them
	// once the backup ends, and the line keeps the final figure.
	done int64
	// first is when bytes were first seen, and how many: the rate is
	// taken from there.
	first     time.Time
	firstDone int64
}

func (a *app) newBackupProgress(b domain.Backup, prev int64) *backupProgress {
	p := &backupProgress{a: a, name: fmt.Sprintf("backup %d of %s", b.ID, b.Source), prev: prev}
	p.bar = a.newBar(-1, p.name)
	return p
}

// update shows b as it stands at now.
func (p *backupProgress) update(b domain.Backup, now time.Time) {
	p.done = max(p.done, b.BytesDone)
	if p.done > 0 && p.first.IsZero() {
		p.first, p.firstDone = now, p.done
	}
	if p.bar == nil {
		if b.Status != p.last {
			fmt.Fprintf(p.a.stderr, "%s: %s\n", p.name, b.Status)
		}
		p.last = b.Status
		return
	}
	p.last = b.Status
	if b.Status.Final() {
		p.bar.Describe(fmt.Sprintf("%s: %s", p.name, b.Status))
		p.bar.Set64(p.done)
		p.bar.Finish()
		return
	}
	rate := 0.0
	if s := now.Sub(p.first).Seconds(); !p.first.IsZero() && s > 0 {
		rate = float64(p.done-p.firstDone) / s
	}
	desc := p.name
	if b.Status != domain.StatusRunning {
		desc += ": " + string(b.Status)
	} else if est := estimate(p.done, p.prev, rate); est != "" {
		desc += ": " + est
	}
	p.bar.Describe(desc)
	p.bar.Set64(p.done)
}

// stop ends the bar's line where it stands, for an error to follow.
func (p *backupProgress) stop() {
	if p.bar != nil {
		p.bar.Exit()
	}
}

// estimate says how far along a backup that has read done bytes is, if
// the last successful one was prev bytes, at rate bytes a second: a
// percentage and the time left, both marked as estimates. The two sizes
// are not quite the same thing (the server counts source bytes read, the
// archive is compressed), so a backup can pass 100%: then it says so
// instead of counting on. "" when there is nothing to estimate from.
func estimate(done, prev int64, rate float64) string {
	if prev <= 0 {
		return ""
	}
	if done >= prev {
		return fmt.Sprintf("past the last backup's %s", humanBytes(prev))
	}
	s := fmt.Sprintf("~%d%% (est. from last backup)", done*100/prev)
	if rate > 0 {
		left := time.Duration(float64(prev-done) / rate * float64(time.Second))
		s += ", ~" + roughDuration(left) + " left"
	}
	return s
}

// roughDuration rounds d as a person reads a countdown: seconds under a
// minute, then minutes and seconds to 5 s, then hours and minutes.
func roughDuration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return d.Round(time.Second).String()
	case d < time.Hour:
		return d.Round(5 * time.Second).String()
	}
	return d.Round(time.Minute).String()
}
