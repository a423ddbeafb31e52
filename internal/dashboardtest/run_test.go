package dashboardtest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/backupd/backupd/internal/domain"
	"github.com/backupd/backupd/internal/testdaemon"
)

const testToken = "dashboard-test-token"

// A daemon that needs a token: the page asks for it with a form, says
// when it is wrong, and then a click on "Run backup" makes a row that
// reaches succeeded without a reload, whose download (which has to carry
// the token) is the export the catalog then describes.
func TestRunBackupFromPageAndDownload(t *testing.T) {
	d := testdaemon.Start(t, testdaemon.Options{
		Config: quickSources + "auth:\n  tokens: [" + testToken + "]\n",
		Token:  testToken,
	})
	p := openPage(t, newBrowser(t), d.URL)

	p.wait("the token form", `document.getElementById('token-dialog').open`)
	p.do(chromedp.SendKeys(chromedp.CSS("#token-input"), "not-the-token"), chromedp.Click(chromedp.CSS("#token-submit")))
	p.wait("the page to say the token is wrong", `document.getElementById('token-error').textContent.includes('not valid')`)
	p.do(chromedp.Clear(chromedp.CSS("#token-input")), chromedp.SendKeys(chromedp.CSS("#token-input"), testToken),
		chromedp.Click(chromedp.CSS("#token-submit")))
	p.wait("the form to close", `!document.getElementById('token-dialog').open`)
	p.live()

	p.do(chromedp.Click(chromedp.CSS(`button.run[data-source="small"]`)))
	p.wait("a row for the new backup", `document.querySelector('#catalog tbody tr')`)
	id := int64(eval[int](p, `Number(document.querySelector('#catalog tbody tr').dataset.id)`))
	p.wait("the row to reach succeeded", `document.querySelector('`+rowSel(id)+`[data-status="succeeded"]')`)
	p.wait("the run button to be enabled again", `!document.querySelector('button.run[data-source="small"]').disabled`)
	if n := eval[int](p, `performance.getEntriesByType('navigation').length`); n != 1 {
		t.Errorf("the page navigated %d times; it must update in place", n)
	}

	b, err := d.Client().Backup(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if b.Status != domain.StatusSucceeded || b.Source != "small" {
		t.Fatalf("backup %d = %s of %s, want succeeded of small", id, b.Status, b.Source)
	}
	// A repository backup has no digest until a download builds its
	// export: the row shows the catalog's, none yet.
	if got := eval[string](p, `document.querySelector('`+rowSel(id)+` code')?.title ?? ''`); got != b.SHA256 {
		t.Errorf("row shows sha256 %q, catalog has %q", got, b.SHA256)
	}

	path, url := clickDownload(t, p, rowSel(id)+` a.download`)
	// The browser fetched a signed link itself (streamed to disk, not
	// saved from the page's memory).
	if !strings.Contains(url, fmt.Sprintf("/api/v1/backups/%d/archive?expires=", id)) || !strings.Contains(url, "&sig=") {
		t.Errorf("the browser downloaded %s, want a signed link to backup %d's archive", url, id)
	}
	// The download built the export and recorded its digest and size.
	if b, err = d.Client().Backup(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	if got := fileSHA256(t, path); b.SHA256 == "" || got != b.SHA256 {
		t.Fatalf("downloaded file sha256 = %s, catalog says %q", got, b.SHA256)
	}
	if st, _ := os.Stat(path); st.Size() != b.ExportBytes {
		t.Errorf("downloaded %d bytes, catalog says export_bytes %d", st.Size(), b.ExportBytes)
	}
}

// clickDownload clicks a download link and returns the saved file's path,
// once the browser says the download completed, and the URL it came from.
func clickDownload(t *testing.T, p *page, sel string) (path, url string) {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(p.ctx, waitTimeout)
	defer cancel()
	progress := chromedp.BrowserEvents(ctx, browser.DownloadProgress)
	urls := make(chan string, 1)
	go func() {
		for ev, err := range chromedp.BrowserEvents(ctx, browser.DownloadWillBegin) {
			if err == nil {
				urls <- ev.URL
			}
			return
		}
	}()
	if _, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: dir, EventsEnabled: new(true),
	}); err != nil {
		t.Fatal(err)
	}
	p.do(chromedp.Click(chromedp.CSS(sel)))
	for ev, err := range progress {
		if err != nil {
			t.Fatalf("waiting for the download: %v\n%s", err, p.state())
		}
		switch ev.State {
		case browser.DownloadProgressStateCompleted:
			select {
			case url = <-urls:
			case <-ctx.Done():
				t.Fatalf("no downloadWillBegin event\n%s", p.state())
			}
			return filepath.Join(dir, ev.GUID), url
		case browser.DownloadProgressStateCanceled:
			t.Fatalf("the browser canceled the download\n%s", p.state())
		}
	}
	t.Fatal("no download")
	return "", ""
}

func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
