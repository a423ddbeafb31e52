package webhook_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/backupd/backupd/internal/catalog"
	"github.com/backupd/backupd/internal/domain"
	"github.com/backupd/backupd/internal/httpapi"
	"github.com/backupd/backupd/internal/webhook"
	"github.com/backupd/backupd/migrations"
)

// inbound is a catalog, an intake and the real router over loopback.
type inbound struct {
	db  *catalog.DB
	url string
}

func openCatalog(t *testing.T, path string) *catalog.DB {
	t.Helper()
	db, err := catalog.Open(context.Background(), path, migrations.FS)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func newInbound(t *testing.T, trusted ...string) *inbound {
	t.Helper()
	db := openCatalog(t, filepath.Join(t.TempDir(), "catalog.db"))
	intake := webhook.NewIntake(db, 0)
	intake.Open()
	recv, err := webhook.NewReceiver([]string{secretNew, secretOld}, trusted, intake)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(httpapi.New(httpapi.Config{Extra: httpapi.WebhookRoutes(recv, db, nil, nil)}).Handler())
	t.Cleanup(func() {
		srv.Close()
		intake.Close()
		db.Close()
	})
	return &inbound{db: db, url: srv.URL + "/api/v1/webhooks/backup"}
}

// post sends body signed with secret as message id; extra are more headers.
func (in *inbound) post(t *testing.T, secret, id, body string, extra ...string) (int, map[string]any) {
	t.Helper()
	code, out, err := in.send(key(t, secret), id, body, extra...)
	if err != nil {
		t.Fatal(err)
	}
	return code, out
}

// send is post for goroutines other than the test's: it returns errors.
func (in *inbound) send(k []byte, id, body string, extra ...string) (int, map[string]any, error) {
	req, err := http.NewRequest(http.MethodPost, in.url, strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	if k != nil {
		webhook.SignHeaders(req.Header, k, id, time.Now(), []byte(body))
	}
	for i := 0; i < len(extra); i += 2 {
		req.Header.Set(extra[i], extra[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		return 0, nil, fmt.Errorf("answer %d is not JSON: %q", resp.StatusCode, raw)
	}
	return resp.StatusCode, out, nil
}

func (in *inbound) counts(t *testing.T) (backups, events int) {
	t.Helper()
	bs, err := in.db.Backups(context.Background(), domain.BackupFilter{Limit: domain.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	evs, err := in.db.ListEvents(context.Background(), 0, domain.MaxLimit)
	if err != nil {
		t.Fatal(err)
	}
	return len(bs), len(evs)
}

func TestReceiveStoresAndIsIdempotent(t *testing.T) {
	in := newInbound(t)
	body := `{"source":"pg","status":"succeeded","size_bytes":"12","odd":[1,{"x":null}]}`
	code, first := in.post(t, secretNew, "msg_1", body)
	if code != http.StatusOK {
		t.Fatalf("status %d: %v", code, first)
	}
	// A redelivery, even signed with the other secret and another body,
	// gets the same answer and the same record, and stores nothing.
	code, again := in.post(t, secretOld, "msg_1", `{"source":"other"}`)
	if code != http.StatusOK || again["id"] != first["id"] || again["source"] != "pg" {
		t.Fatalf("redelivery: %d %v, want 200 and record %v", code, again, first["id"])
	}
	if b, e := in.counts(t); b != 1 || e != 1 {
		t.Fatalf("%d backups, %d events; want 1 and 1", b, e)
	}
	got, err := in.db.ReportByWebhookID(context.Background(), "msg_1")
	if err != nil {
		t.Fatal(err)
	}
	if string(got.Raw) != body || got.SizeBytes != 12 || got.Origin != domain.OriginWebhook || got.SenderIP != "127.0.0.1" || got.ReceivedAt == nil {
		t.Errorf("stored %+v", got)
	}
}

func TestReceiveRefusesAndStoresNothing(t *testing.T) {
	in := newInbound(t)
	big := `{"pad":"` + strings.Repeat("x", webhook.MaxBody) + `"}`
	for _, tt := range []struct {
		name, secret, body string
		want               int
		reason, detail     string
	}{
		{"unsigned", "", `{}`, http.StatusUnauthorized, "missing_header", ""},
		{"wrong secret", "whsec_" + "c29tZWJvZHkgZWxzZQ==", `{}`, http.StatusUnauthorized, "bad_signature", ""},
		{"oversize", secretNew, big, http.StatusRequestEntityTooLarge, "", ""},
		{"array", secretNew, `[1]`, http.StatusBadRequest, "", ""},
		{"invalid JSON", secretNew, `{"source":`, http.StatusBadRequest, "", ""},
		{"not UTF-8", secretNew, "{\"source\":\"pg\",\"n\":\"\xff\"}", http.StatusBadRequest, "", "offset 20"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, body := in.post(t, tt.secret, "msg_"+tt.name, tt.body)
			if code != tt.want {
				t.Fatalf("status %d (%v), want %d", code, body, tt.want)
			}
			if tt.reason != "" && body["reason"] != tt.reason {
				t.Errorf("reason %v, want %s", body["reason"], tt.reason)
			}
			if d, _ := body["detail"].(string); d == "" || !strings.Contains(d, tt.detail) {
				t.Errorf("detail in %v does not say %q", body, tt.detail)
			}
		})
	}
	if b, e := in.counts(t); b != 0 || e != 0 {
		t.Fatalf("%d backups, %d events stored by refused requests", b, e)
	}
}

func TestReceiveForwardedFor(t *testing.T) {
	for _, tt := range []struct {
		trusted []string
		xff     string
		want    string
	}{
		{nil, "203.0.113.9", "127.0.0.1"},
		{[]string{"10.0.0.0/8"}, "203.0.113.9", "127.0.0.1"},
		{[]string{"127.0.0.0/8"}, "203.0.113.9", "203.0.113.9"},
		// The rightmost untrusted hop: the leftmost may be forged.
		{[]string{"127.0.0.0/8", "10.0.0.0/8"}, "198.51.100.1, 203.0.113.9, 10.1.2.3", "203.0.113.9"},
	} {
		in := newInbound(t, tt.trusted...)
		code, body := in.post(t, secretNew, "msg_xff", `{}`, "X-Forwarded-For", tt.xff)
		if code != http.StatusOK || body["sender_ip"] != tt.want {
			t.Errorf("trusted %v, X-Forwarded-For %q: %d sender_ip %v, want %s", tt.trusted, tt.xff, code, body["sender_ip"], tt.want)
		}
	}
}
