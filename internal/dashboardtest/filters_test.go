package dashboardtest

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/backupd/backupd/internal/domain"
	"github.com/backupd/backupd/internal/testdaemon"
)

// Filters live in the query string, history pages in with "Show older",
// and a refused request is explained in words, not shown as JSON.
func TestFiltersPagingAndErrors(t *testing.T) {
	d := testdaemon.Start(t, testdaemon.Options{Config: quickSources})
	reports := make([]domain.Backup, 30)
	for i := range reports {
		reports[i] = domain.Backup{Source: "bulk", SizeBytes: int64(i) << 20}
		if i%3 == 0 {
			reports[i].Status, reports[i].Error = domain.StatusFailed, "disk full"
		}
	}
	storeReports(t, d, reports...)
	if _, err := d.Client().CreateBackup(context.Background(), "small"); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t)

	p := openPage(t, b, d.URL+"/?source=bulk")
	p.live()
	p.wait("the first page of bulk rows", `document.querySelectorAll('#catalog tbody tr').length === 25`)
	p.wait("the source filter to show bulk", `document.querySelector('#filters select[name=source]').value === 'bulk'`)
	if n := eval[int](p, `[...document.querySelectorAll('#catalog tbody td[data-label="Source"]')].filter(td => td.textContent !== 'bulk').length`); n != 0 {
		t.Errorf("%d rows of other sources under ?source=bulk", n)
	}
	p.do(chromedp.Click(chromedp.CSS("#older")))
	p.wait("all 30 bulk rows", `document.querySelectorAll('#catalog tbody tr').length === 30`)
	p.wait("no more pages", `document.getElementById('older').hidden`)

	eval[chromedp.Void](p, `void (() => { const s = document.querySelector('#filters select[name=status]');
		s.value = 'failed'; s.dispatchEvent(new Event('change', {bubbles: true})); })()`)
	p.wait("the status filter in the URL", `new URLSearchParams(location.search).toString() === 'source=bulk&status=failed'`)
	p.wait("only the failed bulk rows", `document.querySelectorAll('#catalog tbody tr').length === 10`)

	bad := openPage(t, b, d.URL+"/?status=bogus")
	bad.wait("the refusal explained", `!document.getElementById('notice').hidden`)
	msg := eval[string](bad, `document.getElementById('notice-text').textContent`)
	if !strings.Contains(msg, `status "bogus" is not one of`) || strings.Contains(msg, "{") {
		t.Errorf("notice = %q, want the problem's detail in words", msg)
	}
}
