package dashboardtest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/backupd/backupd/internal/domain"
	"github.com/backupd/backupd/internal/testdaemon"
)

// screenshotPath is where each test run leaves a fresh picture of the
// dashboard (git ignores it, so a test run leaves the tree clean); the
// README's picture, docs/screenshot.png, is a copy of one such run.
const screenshotPath = "../../screenshots/dashboard.png"

const showcaseSources = `
shutdown_grace: 1s
sources:
  app-files:
    kind: files
    path: %DIR%
    schedule: "@daily"
  metrics:
    kind: command
    command: ["head", "-c", "1500000", "/dev/urandom"]
  broken-export:
    kind: command
    command: ["sh", "-c", "echo 'export: connection refused' >&2; exit 3"]
  mail:
    kind: command
    command: ["echo", "mail"]
    schedule: "0 */6 * * *"
  media:
    kind: command
    # Two 4 MiB parts archived (progress to show), then it stays running
    # while the picture is taken; the daemon stops it at the end.
    command: ["sh", "-c", "head -c 9000000 /dev/urandom; exec sleep 120"]
`

// The dashboard with a few backups of every kind, at 1,280x800, written to
// screenshots/dashboard.png. DASHBOARD_SHOTS=<dir> also writes a 360 px wide and
// a dark one there, to look at.
func TestScreenshot(t *testing.T) {
	dir := t.TempDir()
	for name, size := range map[string]int{"index.html": 4 << 10, "app.db": 900 << 10, "logo.png": 60 << 10} {
		if err := os.WriteFile(filepath.Join(dir, name), make([]byte, size), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg := strings.Replace(showcaseSources, "%DIR%", dir, 1)
	d := testdaemon.Start(t, testdaemon.Options{Config: cfg})
	// A history for the charts, older than the backups run below: mail's
	// last success is ten hours old, so it is overdue on its six-hourly
	// schedule.
	history := append(series("metrics", 24, 6*time.Hour, 40*time.Minute, func(i int) (int64, time.Duration) {
		return 1_350_000 + int64(i*i*180) + int64(i%3)*20_000, time.Duration(14+i%5*3) * time.Millisecond
	}), series("mail", 12, 6*time.Hour, 10*time.Hour, func(i int) (int64, time.Duration) {
		return 40_000_000 + int64(i)*900_000, time.Duration(40+i*2) * time.Second
	})...)
	history = append(history, series("app-files", 10, 24*time.Hour, 22*time.Hour, func(i int) (int64, time.Duration) {
		return 700 + int64(i)*25, time.Duration(5+i%3) * time.Millisecond
	})...)
	history[7].Status, history[7].Error, history[7].SizeBytes = domain.StatusFailed, "scrape timed out", 0
	storeReports(t, d, history...)
	c := d.Client()
	ctx := context.Background()
	for _, src := range []string{"app-files", "catalog", "metrics", "broken-export"} {
		b, err := c.CreateBackup(ctx, src)
		if err != nil {
			t.Fatal(err)
		}
		d.WaitBackup(b.ID)
	}
	start := time.Now().Add(-4*time.Minute - 12*time.Second)
	storeReports(t, d,
		domain.Backup{Source: "pg-main", Kind: "postgres", SizeBytes: 734_003_200, StartedAt: &start, Message: "nightly",
			SHA256: "3b5d5c3712955042212316173ccf37be800cd0a8e1d5e6a13e3d0c6b1e5a8c9f"},
		domain.Backup{Source: "mysql-shop", Kind: "mysql", Status: domain.StatusFailed, StartedAt: &start,
			Error: "mysqldump: Got error 2013: Lost connection"})
	running, err := c.CreateBackup(ctx, "media")
	if err != nil {
		t.Fatal(err)
	}

	p := openPage(t, newBrowser(t), d.URL)
	p.do(chromedp.EmulateViewport(1280, 800))
	p.live()
	p.wait("a full first page of backups", `document.querySelectorAll('#catalog tbody tr').length === 25`)
	p.wait("the running backup's progress", `/^[1-9].* read$/.test(document.querySelector('`+rowSel(running.ID)+`[data-status="running"] td.num')?.textContent)`)
	// Only progress events tell the sources panel how far a backup is.
	p.wait("a progress event in the sources panel", `document.querySelector('#sources li[data-source="media"] .last')?.textContent.includes('MiB read')`)
	eval[chromedp.Void](p, `void (document.getElementById('message-text').value = 'Deploying 4.2 at 17:00')`)
	p.do(chromedp.Click(chromedp.CSS("#devtools summary")), chromedp.Click(chromedp.CSS("#send-message")))
	p.wait("the message in the log", `document.querySelector('#log li[data-kind="message"]')`)
	eval[chromedp.Void](p, `void (document.getElementById('devtools').open = false)`)
	eval[chromedp.Void](p, `void (document.activeElement.blur(), window.scrollTo(0, 0))`)

	shot := screenshot(t, p, false)
	if err := os.MkdirAll(filepath.Dir(screenshotPath), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(screenshotPath, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	if out := os.Getenv("DASHBOARD_SHOTS"); out != "" {
		p.do(chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
				Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}})
			return err
		}))
		os.WriteFile(filepath.Join(out, "dark-1280.png"), screenshot(t, p, false), 0o644)
		p.do(chromedp.EmulateViewport(1920, 1080))
		os.WriteFile(filepath.Join(out, "dark-1920.png"), screenshot(t, p, false), 0o644)
		p.do(chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
				Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "light"}}})
			return err
		}), chromedp.EmulateViewport(360, 740, chromedp.EmulateMobile))
		os.WriteFile(filepath.Join(out, "light-360.png"), screenshot(t, p, true), 0o644)
	}
}

// series is n reports of source, every apart, the newest last ago, with
// sizes and durations from f(i), i = 0 the oldest.
func series(source string, n int, every, last time.Duration, f func(i int) (int64, time.Duration)) []domain.Backup {
	out := make([]domain.Backup, n)
	for i := range out {
		size, took := f(i)
		finished := time.Now().Add(-last - time.Duration(n-1-i)*every)
		started := finished.Add(-took)
		out[i] = domain.Backup{Source: source, Kind: "command", SizeBytes: size, StartedAt: &started, FinishedAt: &finished,
			SHA256: fmt.Sprintf("%064x", i+1)}
	}
	return out
}

func screenshot(t *testing.T, p *page, full bool) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, waitTimeout)
	defer cancel()
	a := chromedp.CaptureScreenshot()
	if full {
		a = chromedp.FullScreenshot(100)
	}
	b, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	return b
}
