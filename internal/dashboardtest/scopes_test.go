package dashboardtest

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/backupd/backupd/internal/testdaemon"
)

// The dashboard offers only what the token may do: with a read-only token
// it shows sources and backups but no Run buttons and no Download links;
// a token that may not read is told so at the form. The strict CSP the
// daemon sends leaves the page working, without a console error.
func TestDashboardHidesWhatTheTokenMayNotDo(t *testing.T) {
	const (
		admin  = "dashboard-admin-token-0123"
		viewer = "dashboard-viewer-token-0123"
		runner = "dashboard-runner-token-0123"
	)
	d := testdaemon.Start(t, testdaemon.Options{
		Config: quickSources + "auth:\n  tokens:\n    - " + admin + "\n" +
			"    - {name: viewer, token: " + viewer + ", scopes: [read]}\n" +
			"    - {name: cron, token: " + runner + ", scopes: [run]}\n",
		Token: admin,
	})
	b, err := d.Client().CreateBackup(context.Background(), "small")
	if err != nil {
		t.Fatal(err)
	}
	d.WaitBackup(b.ID)
	browser := newBrowser(t)

	p := openPage(t, browser, d.URL)
	signIn(p, runner)
	p.wait("the page to say the token may not read", `document.getElementById('token-error').textContent.includes('read scope')`)
	p.do(chromedp.Clear(chromedp.CSS("#token-input")))
	signIn(p, viewer)
	p.wait("the form to close", `!document.getElementById('token-dialog').open`)
	p.live()
	p.wait("the backup's row", `document.querySelector('`+rowSel(b.ID)+`[data-status="succeeded"]')`)
	visible := func(sel string) string {
		return `[...document.querySelectorAll('` + sel + `')].some((e) => e.offsetParent !== null)`
	}
	if eval[bool](p, visible(`button.run`)) {
		t.Error("a Run button is shown to a read-only token")
	}
	if eval[bool](p, visible(`a.download`)) {
		t.Error("a Download link is shown to a read-only token")
	}
	if errs := unexpected(p.consoleErrors()); len(errs) > 0 {
		t.Errorf("console errors with the read-only token: %v", errs)
	}

	full := openPage(t, browser, d.URL) // a tab of its own: its own token
	signIn(full, admin)
	full.live()
	full.wait("a Run button for the admin token", visible(`button.run`))
	full.wait("a Download link for the admin token", visible(rowSel(b.ID)+` a.download`))
	if errs := unexpected(full.consoleErrors()); len(errs) > 0 {
		t.Errorf("console errors with the admin token: %v", errs)
	}
}

func signIn(p *page, tok string) {
	p.t.Helper()
	p.wait("the token form", `document.getElementById('token-dialog').open`)
	p.do(chromedp.SendKeys(chromedp.CSS("#token-input"), tok), chromedp.Click(chromedp.CSS("#token-submit")))
}

// unexpected leaves out the 401s of the loads before the token was given,
// which the browser reports as console errors; a CSP violation, an
// exception or any other failed load stays.
func unexpected(errs []string) []string {
	var out []string
	for _, e := range errs {
		if !strings.Contains(e, "status of 401") {
			out = append(out, e)
		}
	}
	return out
}
