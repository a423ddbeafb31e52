package dashboardtest

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/backupd/backupd/internal/domain"
	"github.com/backupd/backupd/internal/testdaemon"
)

// One source of each health: healthy (reported successes of three sizes),
// failing (a command that exits 1), stale (scheduled hourly, its last
// success three hours old: overdue) and fresh (scheduled daily, never run,
// and the daemon just started: not overdue yet). catalog, built in, has
// never run either.
const healthSources = `
shutdown_grace: 1s
sources:
  healthy:
    kind: command
    command: ["head", "-c", "200000", "/dev/urandom"]
  failing:
    kind: command
    command: ["sh", "-c", "echo 'dump: connection refused' >&2; exit 1"]
  stale:
    kind: command
    command: ["echo", "stale"]
    schedule: "@every 1h"
  fresh:
    kind: command
    command: ["echo", "fresh"]
    schedule: "@daily"
`

func ago(d time.Duration) *time.Time {
	t := time.Now().Add(-d).UTC()
	return &t
}

// The overview says what is wrong at a glance, charts each source's
// sizes, stays live, the log shows what happened before the page opened,
// and on a phone nothing scrolls sideways and every tap target is 44 px.
func TestSourcesOverview(t *testing.T) {
	d := testdaemon.Start(t, testdaemon.Options{Config: healthSources})
	sizes := []int64{3 << 20, 1 << 20, 2 << 20}
	var reports []domain.Backup
	for i, size := range sizes {
		finished := ago(time.Duration(3-i) * time.Hour)
		started := finished.Add(-time.Duration(10+20*i) * time.Second)
		reports = append(reports, domain.Backup{Source: "healthy", Kind: "command", SizeBytes: size, StartedAt: &started, FinishedAt: finished})
	}
	reports = append(reports, domain.Backup{Source: "stale", Kind: "command", SizeBytes: 1000, StartedAt: ago(3 * time.Hour), FinishedAt: ago(3 * time.Hour)})
	storeReports(t, d, reports...)
	c := d.Client()
	ctx := context.Background()
	b, err := c.CreateBackup(ctx, "failing")
	if err != nil {
		t.Fatal(err)
	}
	if got := d.WaitBackup(b.ID); got.Status != domain.StatusFailed {
		t.Fatalf("failing's backup: %s, want failed", got.Status)
	}
	before, err := c.Events(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}

	p := openPage(t, newBrowser(t), d.URL)
	p.live()
	p.wait("every source in the overview", `document.querySelectorAll('#sources li.source').length === 5`)

	health := eval[map[string]string](p, `Object.fromEntries([...document.querySelectorAll('#sources li.source')].map(li => [li.dataset.source, li.dataset.health]))`)
	for src, want := range map[string]string{"healthy": "ok", "failing": "failing", "stale": "overdue", "fresh": "never", "catalog": "never"} {
		if health[src] != want {
			t.Errorf("source %s is marked %q, want %q (all: %v)", src, health[src], want, health)
		}
	}
	order := eval[[]string](p, `[...document.querySelectorAll('#sources li.source')].map(li => li.dataset.source)`)
	if len(order) < 2 || order[0] != "failing" || order[1] != "stale" {
		t.Errorf("overview order %v: failing and overdue sources must come first", order)
	}
	row := func(src, sel string) string {
		return eval[string](p, `document.querySelector('#sources li[data-source="`+src+`"] `+sel+`')?.textContent ?? ''`)
	}
	if got := row("failing", ".src-fail"); !strings.Contains(got, "dump: connection refused") {
		t.Errorf("failing's last failure = %q, want its error", got)
	}
	if got := row("failing", ".health"); got != "Failing" {
		t.Errorf("failing's badge = %q", got)
	}
	if got := row("stale", ".src-next"); !strings.Contains(got, "Overdue since") {
		t.Errorf("stale's next run = %q, want it to say since when it is overdue", got)
	}
	if got := row("stale", ".src-ok"); !strings.Contains(got, "3h ago") {
		t.Errorf("stale's last success = %q, want 3h ago", got)
	}
	if got := row("fresh", ".src-next .ago"); !strings.HasPrefix(got, "in ") {
		t.Errorf("fresh's next run = %q, want a time to come", got)
	}
	// The full date, time and zone is there too, not just "3h ago".
	if title := eval[string](p, `document.querySelector('#sources li[data-source="stale"] .src-ok time').title`); !strings.Contains(title, time.Now().Format("2006")) {
		t.Errorf("last success's full time = %q", title)
	}

	checkChart(t, p, "healthy", sizes)

	// Live: a backup run now adds a bar, without a reload.
	p.do(chromedp.Click(chromedp.CSS(`button.run[data-source="healthy"]`)))
	p.wait("a fourth bar in healthy's chart", `document.querySelectorAll('#sources li[data-source="healthy"] svg rect.bar').length === 4`)
	p.wait("healthy's last success to be the new one", `document.querySelector('#sources li[data-source="healthy"] .src-ok .ago')?.textContent.match(/now|s ago/)`)
	if n := eval[int](p, `performance.getEntriesByType('navigation').length`); n != 1 {
		t.Errorf("the page navigated %d times; it must update in place", n)
	}

	// The log: every stored event from before the page opened, once each.
	for _, ev := range before {
		if !eval[bool](p, fmt.Sprintf(`!!document.querySelector('#log li[data-id="%d"]')`, ev.ID)) {
			t.Errorf("event %d (%s of %s), from before the page opened, is not in the log", ev.ID, ev.Type, ev.Source)
		}
	}
	if dup := eval[int](p, `(() => { const ids = [...document.querySelectorAll('#log li[data-id]')].map(li => li.dataset.id); return ids.length - new Set(ids).size; })()`); dup != 0 {
		t.Errorf("%d events are in the log twice", dup)
	}
	if !strings.Contains(eval[string](p, `document.getElementById('log').textContent`), fmt.Sprintf("#%d failing failed: ", b.ID)) {
		t.Errorf("the log does not say that backup %d failed", b.ID)
	}
	if eval[bool](p, `document.getElementById('devtools').open`) {
		t.Error("the developer tools are open by default")
	}
	// Times carry their date and zone: "Dec 4, 19:47:01 UTC".
	started := eval[string](p, `document.querySelector('#catalog tbody td[data-label="Started"]').textContent`)
	if !strings.Contains(started, time.Now().Format("Jan")) || !strings.ContainsAny(started, ":") || len(strings.Fields(started)) < 4 {
		t.Errorf("a backup's start = %q, want date, time and zone", started)
	}

	checkPhone(t, p)
	if errs := p.consoleErrors(); len(errs) > 0 {
		t.Errorf("console errors:\n%s", strings.Join(errs, "\n"))
	}
}

// checkChart checks that src's chart has one bar per backup, as tall as
// the backup is large relative to the others.
func checkChart(t *testing.T, p *page, src string, sizes []int64) {
	t.Helper()
	type bar struct {
		Size   int64   `json:"size"`
		Height float64 `json:"height"`
	}
	bars := eval[[]bar](p, `[...document.querySelectorAll('#sources li[data-source="`+src+`"] svg rect.bar')].map(r =>
		({size: Number(r.dataset.size), height: r.getBBox().height}))`)
	if len(bars) != len(sizes) {
		t.Fatalf("%s's chart has %d bars, want %d (one per backup): %+v", src, len(bars), len(sizes), bars)
	}
	for i, b := range bars {
		if b.Size != sizes[i] {
			t.Errorf("bar %d is of size %d, want %d (oldest first)", i, b.Size, sizes[i])
		}
	}
	sort.Slice(bars, func(i, j int) bool { return bars[i].Size < bars[j].Size })
	for i := 1; i < len(bars); i++ {
		if bars[i].Height <= bars[i-1].Height {
			t.Errorf("a bar of %d bytes is %.1f high, one of %d bytes %.1f: heights must follow sizes",
				bars[i].Size, bars[i].Height, bars[i-1].Size, bars[i-1].Height)
		}
	}
	if label := eval[string](p, `document.querySelector('#sources li[data-source="`+src+`"] svg').getAttribute('aria-label')`); !strings.Contains(label, "sizes 1.0 MiB to 3.0 MiB") {
		t.Errorf("%s's chart is described as %q", src, label)
	}
}

// checkPhone looks at the page as a 390x844 phone shows it.
func checkPhone(t *testing.T, p *page) {
	t.Helper()
	p.do(chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	p.wait("the phone layout", `innerWidth === 390`)
	if w := eval[[]int](p, `[document.documentElement.scrollWidth, innerWidth]`); w[0] > w[1] {
		t.Errorf("the page is %d px wide in a %d px viewport: it scrolls sideways", w[0], w[1])
	}
	small := eval[[]string](p, `[...document.querySelectorAll('button, a, summary, select')]
		.filter(e => e.checkVisibility() && e.getBoundingClientRect().width > 0 && e.getBoundingClientRect().right > 0)
		.filter(e => e.getBoundingClientRect().height < 44)
		.map(e => e.tagName + ' ' + (e.textContent.trim() || e.outerHTML).slice(0, 40) + ': ' + e.getBoundingClientRect().height.toFixed(1) + ' px')`)
	for _, s := range small {
		t.Errorf("tap target under 44 px on a phone: %s", s)
	}
	rows := eval[[]float64](p, `[...document.querySelectorAll('#catalog tbody tr')].map(r => r.getBoundingClientRect().height)`)
	for i, h := range rows {
		if h > 100 {
			t.Errorf("backup row %d is %.0f px high on a phone; rows, not cards", i, h)
		}
	}
}
