package dashboardtest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/backupd/backupd/internal/testdaemon"
	"github.com/backupd/backupd/internal/testenv"
)

func TestMain(m *testing.M) { testdaemon.Main(m) }

const chromiumPath = "/usr/bin/chromium"

// newBrowser starts a headless Chromium with a fresh profile and returns
// its context; each page opened from it is a tab of its own.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		testenv.Missing(t, "Chromium at "+chromiumPath, err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		// Background tabs must keep their timers: the message test has two.
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelBrowser(); cancelAlloc() })
	// The first Run starts the browser; it must not carry a deadline.
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return bctx
}

// page is one tab showing the dashboard, with what its console said.
type page struct {
	t   *testing.T
	ctx context.Context

	mu      sync.Mutex
	console []chromedp.ConsoleMessage
}

// openPage opens url in a new tab and waits until the page has loaded its
// first data (or asks for a token).
func openPage(t *testing.T, browser context.Context, url string) *page {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser)
	t.Cleanup(cancel)
	p := &page{t: t, ctx: ctx}
	// Subscribe before navigating so that nothing the page says is missed.
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			p.mu.Lock()
			p.console = append(p.console, m)
			p.mu.Unlock()
		}
	}()
	p.do(chromedp.Navigate(url))
	p.wait("the page to load its sources or ask for a token",
		`document.querySelector('#sources li.source') || document.getElementById('token-dialog').open`)
	return p
}

func (p *page) do(steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		p.t.Fatalf("browser: %v\n%s", err, p.state())
	}
}

// eval returns the value of a JavaScript expression.
func eval[T any](p *page, expr string) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		p.t.Fatalf("evaluate %s: %v\n%s", expr, err, p.state())
	}
	return v
}

// waitTimeout bounds every wait on the page. It is a deadline for
// something that should happen, not a pause: waits end as soon as their
// condition holds.
const waitTimeout = 30 * time.Second

// wait polls a JavaScript condition until it is truthy.
func (p *page) wait(what, cond string) {
	p.t.Helper()
	p.waitFor(what, cond, waitTimeout)
}

func (p *page) waitFor(what, cond string, timeout time.Duration) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, timeout+5*time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[bool]("!!("+cond+")",
		chromedp.WithPollingInterval(20*time.Millisecond), chromedp.WithPollingTimeout(timeout)))
	if err != nil {
		p.t.Fatalf("waiting for %s: %v\n%s", what, err, p.state())
	}
}

// state describes the page for a failure message.
func (p *page) state() string {
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	s, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`[
		'connection: ' + document.getElementById('conn').innerText,
		'notice: ' + (document.getElementById('notice').hidden ? '' : document.getElementById('notice').innerText),
		'rows:\n' + document.querySelector('#catalog tbody').innerText,
		'log:\n' + document.getElementById('log').innerText].join('\n')`))
	var b strings.Builder
	fmt.Fprintf(&b, "page state:\n%s\nconsole:\n", s)
	for _, m := range p.messages() {
		fmt.Fprintf(&b, "  %s\n", m)
	}
	return b.String()
}

func (p *page) messages() []chromedp.ConsoleMessage {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]chromedp.ConsoleMessage(nil), p.console...)
}

// consoleErrors returns the errors and uncaught exceptions so far.
func (p *page) consoleErrors() []string {
	var errs []string
	for _, m := range p.messages() {
		if m.Type == chromedp.ConsoleError || m.IsException() {
			errs = append(errs, fmt.Sprintf("%s (%s:%d)", m, m.URL, m.Line))
		}
	}
	return errs
}

// live waits until the page's WebSocket is connected and caught up.
func (p *page) live() {
	p.t.Helper()
	p.wait("the connection indicator to say live", `document.getElementById('conn').dataset.state === 'live'`)
}

// rowSel is the CSS selector of backup id's row.
func rowSel(id int64) string { return fmt.Sprintf(`#catalog tbody tr[data-id="%d"]`, id) }

// jsq quotes s as a JavaScript string literal.
func jsq(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\n", `\n`).Replace(s) + "'"
}
