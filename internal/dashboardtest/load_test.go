package dashboardtest

import (
	"strings"
	"testing"

	"github.com/backupd/backupd/internal/testdaemon"
)

const quickSources = `
shutdown_grace: 1s
sources:
  small:
    kind: command
    command: ["head", "-c", "300000", "/dev/urandom"]
`

// The page loads, connects and labels what it shows, with nothing in the
// console.
func TestPageLoadsWithoutConsoleErrors(t *testing.T) {
	d := testdaemon.Start(t, testdaemon.Options{Config: quickSources})
	p := openPage(t, newBrowser(t), d.URL)
	p.live()
	p.wait("both sources listed", `document.querySelectorAll('#sources li.source').length === 2`)

	names := eval[[]string](p, `[...document.querySelectorAll('button')].filter(b => b.checkVisibility()).map(b => b.innerText.trim() ? b.textContent.trim() : '')`)
	for _, n := range names {
		if n == "" {
			t.Errorf("a visible button has no name: %q", names)
		}
	}
	if got := eval[string](p, `document.querySelector('button.run[data-source="small"]').textContent`); got != "Run backup of small" {
		t.Errorf("run button's accessible text = %q", got)
	}
	if got := eval[string](p, `document.querySelector('#catalog caption').textContent`); !strings.HasPrefix(got, "Backups, newest first") {
		t.Errorf("table caption = %q", got)
	}
	if errs := p.consoleErrors(); len(errs) > 0 {
		t.Errorf("console errors:\n%s", strings.Join(errs, "\n"))
	}
}
