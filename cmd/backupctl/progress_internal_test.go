package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/backupd/backupd/internal/domain"
)

func TestEstimate(t *testing.T) {
	cases := []struct {
		done, prev int64
		rate       float64
		want       string
	}{
		{100, 0, 10, ""}, // no previous backup: bytes and rate only
		{0, 1000, 0, "~0% (est. from last backup)"},
		{430, 1000, 10, "~43% (est. from last backup), ~57s left"},
		{100 << 20, 1 << 30, 1 << 20, "~9% (est. from last backup), ~15m25s left"},
		{1 << 30, 1 << 30, 1 << 20, "past the last backup's 1.0 GiB"},
		{2 << 30, 1 << 30, 1 << 20, "past the last backup's 1.0 GiB"},
	}
	for _, c := range cases {
		if got := estimate(c.done, c.prev, c.rate); got != c.want {
			t.Errorf("estimate(%d, %d, %v) = %q, want %q", c.done, c.prev, c.rate, got, c.want)
		}
	}
}

// The last line of run --wait keeps the bytes read once the backup ends,
// though the server stops reporting them then.
func TestProgressKeepsFinalFigure(t *testing.T) {
	var out bytes.Buffer
	p := &backupProgress{name: "backup 7 of docs", prev: 4 << 20, bar: drawBar(&out, -1, "backup 7 of docs")}
	now := time.Now()
	b := domain.Backup{ID: 7, Source: "docs", Status: domain.StatusRunning}
	var described []string
	for i, done := range []int64{1 << 20, 2 << 20, 3 << 20} {
		b.BytesDone = done
		p.update(b, now.Add(time.Duration(i)*time.Second))
		// What the bar shows, read from its state: when each render
		// reaches the writer depends on the bar's throttle and the load.
		described = append(described, p.bar.State().Description)
	}
	if got := described[1]; !strings.Contains(got, "~50% (est. from last backup)") {
		t.Errorf("running line at 2 of 4 MiB says %q, want the estimate ~50%%", got)
	}
	b.Status, b.BytesDone, b.SizeBytes = domain.StatusSucceeded, 0, 1<<20
	p.update(b, now.Add(3*time.Second))
	lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\r")
	last := lines[len(lines)-1]
	if !strings.Contains(last, "backup 7 of docs: succeeded") || !strings.Contains(last, "3.0 MiB") || strings.Contains(last, " 0 B") {
		t.Errorf("last line = %q, want the status and the final 3.0 MiB", last)
	}
	if strings.Contains(out.String(), "MB") || strings.Contains(out.String(), "kB") {
		t.Errorf("SI units in %q: backupctl speaks IEC", out.String())
	}
}

func TestOneLine(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", "-"},
		{"pg_dump: connection refused", "pg_dump: connection refused"},
		{"exit status 3:\npg_dump:\terror", "exit status 3: pg_dump: error"},
		{strings.Repeat("x", 70), strings.Repeat("x", 59) + "…"},
		{strings.Repeat("é", 61), strings.Repeat("é", 59) + "…"},
	} {
		if got := oneLine(c.in, maxErrorWidth); got != c.want {
			t.Errorf("oneLine(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// A download's bar is sized by what the download sends: an old archive's
// size, a repository backup's export once built, else the response's
// Content-Length; never a repository backup's logical size.
func TestDownloadBarTotal(t *testing.T) {
	cases := []struct {
		b    domain.Backup
		want int64
	}{
		{domain.Backup{SizeBytes: 500, Archive: "old.tar.zst"}, 500},
		{domain.Backup{SizeBytes: 1000, Snapshot: "ab", Archive: "new.tar.zst"}, -1},
		{domain.Backup{SizeBytes: 1000, Snapshot: "ab", ExportBytes: 700, Archive: "new.tar.zst"}, 700},
	}
	for _, c := range cases {
		if got := downloadTotal(c.b); got != c.want {
			t.Errorf("downloadTotal(%+v) = %d, want %d", c.b, got, c.want)
		}
	}
	var out bytes.Buffer
	bar := drawBar(&out, downloadTotal(cases[1].b), "backup 2")
	setBar(bar, 50, 700) // the Content-Length of the first response
	if got := bar.GetMax64(); got != 700 {
		t.Fatalf("bar total %d after the response, want 700", got)
	}
	setBar(bar, 60, 0) // no length: keep the one known
	if got := bar.GetMax64(); got != 700 {
		t.Fatalf("bar total %d after a response without a length, want 700", got)
	}
	setBar(nil, 1, 2) // off a terminal
}
