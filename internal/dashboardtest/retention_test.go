package dashboardtest

import (
	"context"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/backupd/backupd/internal/domain"
	"github.com/backupd/backupd/internal/testdaemon"
)

// When the source's retention removes a backup's archive, the open page
// shows "expired" where its download link was, at once and after a reload;
// the kept backup keeps its link.
func TestExpiredArchiveHasNoLink(t *testing.T) {
	d := testdaemon.Start(t, testdaemon.Options{Config: quickSources + "    keep: 1\n"})
	p := openPage(t, newBrowser(t), d.URL)
	p.live()
	var ids []int64
	for range 2 {
		b, err := d.Client().CreateBackup(context.Background(), "small")
		if err != nil {
			t.Fatal(err)
		}
		if got := d.WaitBackup(b.ID); got.Status != domain.StatusSucceeded {
			t.Fatalf("backup %d: %s %s", b.ID, got.Status, got.Error)
		}
		ids = append(ids, b.ID)
	}
	check := func(when string) {
		t.Helper()
		p.wait("the first backup's archive to show as expired ("+when+")",
			`document.querySelector('`+rowSel(ids[0])+` td:last-child')?.textContent === 'expired'`)
		if eval[bool](p, `!!document.querySelector('`+rowSel(ids[0])+` a.download')`) {
			t.Errorf("%s: the expired backup still has a download link", when)
		}
		if !eval[bool](p, `!!document.querySelector('`+rowSel(ids[1])+` a.download')`) {
			t.Errorf("%s: the kept backup has no download link", when)
		}
	}
	check("live")
	p.do(chromedp.Reload())
	p.live()
	check("after a reload")
}
