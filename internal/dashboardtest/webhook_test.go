package dashboardtest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/backupd/backupd/internal/domain"
	"github.com/backupd/backupd/internal/testdaemon"
	"github.com/backupd/backupd/internal/webhook"
)

// webhookSecret is a whsec_ secret: base64 of a fixed test key.
var webhookSecret = "whsec_" + base64.StdEncoding.EncodeToString([]byte("dashboard-test-webhook-key-32byt"))

var webhookConfig = quickSources + "webhooks:\n  secrets: [\"" + webhookSecret + "\"]\n"

// postReport sends a signed completion report, as an outside engine
// would, and returns the stored record.
func postReport(t *testing.T, d *testdaemon.Daemon, report map[string]any) domain.Backup {
	t.Helper()
	body, _ := json.Marshal(report)
	key, err := webhook.ParseSecret(webhookSecret)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, d.URL+"/api/v1/webhooks/backup", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	webhook.SignHeaders(req.Header, key, fmt.Sprintf("msg_%d", time.Now().UnixNano()), time.Now(), body)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b domain.Backup
	if resp.StatusCode != http.StatusOK {
		var p map[string]any
		json.NewDecoder(resp.Body).Decode(&p)
		t.Fatalf("POST webhook: %s %v", resp.Status, p)
	}
	if err := json.NewDecoder(resp.Body).Decode(&b); err != nil {
		t.Fatal(err)
	}
	return b
}

// A report posted from outside shows up as a row by itself, within a
// second (the deadline is generous; the latency is logged).
func TestWebhookReportAppearsAsRow(t *testing.T) {
	d := testdaemon.Start(t, testdaemon.Options{Config: webhookConfig})
	p := openPage(t, newBrowser(t), d.URL)
	p.live()
	// Note in the page when the first webhook row appears, so that the
	// latency is measured without the polling's granularity.
	eval[chromedp.Void](p, `void new MutationObserver((_, o) => {
		if (document.querySelector('#catalog tbody tr td[data-label="Origin"]')?.textContent === 'webhook') {
			window.webhookRowAt = Date.now(); o.disconnect();
		}
	}).observe(document.querySelector('#catalog tbody'), {childList: true, subtree: true})`)

	sent := time.Now()
	b := postReport(t, d, map[string]any{
		"source": "pg-main", "kind": "postgres", "status": "success", "size_bytes": 123456789,
		"sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "message": "nightly",
	})
	p.waitFor("the reported backup's row", `document.querySelector('`+rowSel(b.ID)+`[data-status="succeeded"]')`, 5*time.Second)
	at := eval[int64](p, `window.webhookRowAt`)
	latency := time.UnixMilli(at).Sub(sent)
	t.Logf("webhook POST to row on the page: %v", latency.Round(time.Millisecond))
	if latency > time.Second {
		t.Errorf("the row appeared %v after the POST; the issue asks for within a second", latency)
	}
	if got := eval[string](p, `document.querySelector('`+rowSel(b.ID)+` td[data-label="Source"]').textContent`); got != "pg-main" {
		t.Errorf("row source = %q", got)
	}
}
