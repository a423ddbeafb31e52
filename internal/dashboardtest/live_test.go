package dashboardtest

import (
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/backupd/backupd/internal/domain"
	"github.com/backupd/backupd/internal/testdaemon"
)

// The daemon goes away and comes back on the same port: the indicator
// says so, the page reconnects by itself, and an event committed while it
// was away (by another process, straight into the catalog) shows up.
func TestReconnectsAfterRestartAndCatchesUp(t *testing.T) {
	d := testdaemon.Start(t, testdaemon.Options{Config: quickSources})
	p := openPage(t, newBrowser(t), d.URL)
	p.live()

	d.Stop()
	p.wait("the indicator to show the connection is down", `document.getElementById('conn').dataset.state === 'down'`)
	id := storeReports(t, d, domain.Backup{Source: "offline-engine"})[0].ID
	d.Restart()

	p.live()
	p.wait("the event committed while disconnected", `document.querySelector('`+rowSel(id)+`')`)
	p.wait("the log to say it reconnected", `document.getElementById('log').textContent.includes('Reconnected')`)
}

// "Send test message", under the developer tools, in one page shows in
// another page's event log.
func TestMessageReachesAnotherPage(t *testing.T) {
	d := testdaemon.Start(t, testdaemon.Options{Config: quickSources})
	b := newBrowser(t)
	sender, receiver := openPage(t, b, d.URL), openPage(t, b, d.URL)
	sender.live()
	receiver.live()

	text := fmt.Sprintf("hello from the test %d", time.Now().UnixNano())
	sender.do(chromedp.Click(chromedp.CSS("#devtools summary")), chromedp.Clear(chromedp.CSS("#message-text")), chromedp.SendKeys(chromedp.CSS("#message-text"), text),
		chromedp.Click(chromedp.CSS("#send-message")))
	cond := `[...document.querySelectorAll('#log li[data-kind="message"]')].some(li => li.textContent.includes(` + jsq(text) + `))`
	receiver.wait("the message in the other page's log", cond)
	sender.wait("the message in the sender's own log, as its own", `[...document.querySelectorAll('#log li[data-kind="message"]')].some(li =>
		li.textContent.includes('Message from this page: ' + `+jsq(text)+`))`)
}
