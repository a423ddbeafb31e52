package hub

import (
	"context"
	"database/sql"
	"encoding/json"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/backupd/backupd/internal/catalog"
	"github.com/backupd/backupd/internal/domain"
	"github.com/backupd/backupd/internal/httpapi"
	"github.com/backupd/backupd/internal/webhook"
	"github.com/backupd/backupd/migrations"
)

// FuzzReportToFrame follows any bytes from a report body to what leaves
// the daemon: the webhook parser either refuses them (not UTF-8: naming
// the offset) or they are stored, read back by the catalog, framed for
// both protocols and written as REST JSON, and every one of those is valid
// UTF-8 and valid JSON. The same bytes written straight into the catalog
// file, as an older version or another program might have, come out just
// as safe.
func FuzzReportToFrame(f *testing.F) {
	for _, s := range []string{
		`{"source":"db","status":"ok"}`,
		"{\"source\":\"db\",\"note\":\"\xff\xfe\"}",
		"{\"message\":\"caf\xc3\"}",
		"{\"x\":\"\xed\xa0\x80\"}", // a UTF-16 surrogate, encoded: not UTF-8
		"{\"k\xe2\x80\":1}",
		`{"u":"é€😀 \u00e9 \ud800"}`,
		"\xff{}", "{}\xff", "not json \xc0\xaf", `[1,2]`, ``, `{"a":"<b>&</b>\u2028"}`,
	} {
		f.Add([]byte(s))
	}
	ctx := context.Background()
	path := filepath.Join(f.TempDir(), "catalog.db")
	db, err := catalog.Open(ctx, path, migrations.FS)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { db.Close() })
	raw, err := sql.Open("sqlite3", path)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { raw.Close() })
	var n int
	f.Fuzz(func(t *testing.T, body []byte) {
		n++
		head, err := db.LastEventID(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if b, err := webhook.ParseReport(body); err != nil {
			if domain.ErrorCode(err) != domain.EINVALID {
				t.Fatalf("refused with %v, want EINVALID", err)
			}
			if off, bad := domain.InvalidUTF8Offset(body); bad && !strings.Contains(err.Error(), "offset "+strconv.Itoa(off)) {
				t.Fatalf("body not UTF-8 at %d; the error does not say where: %v", off, err)
			}
		} else {
			if !utf8.Valid(body) {
				t.Fatalf("a body that is not UTF-8 was accepted: %q", body)
			}
			b.WebhookID = "fuzz-" + strconv.Itoa(n)
			res, err := db.CreateReports(ctx, []domain.Backup{b})
			if err != nil {
				t.Fatal(err)
			}
			stored, err := db.Backup(ctx, res[0].Backup.ID)
			if err != nil {
				t.Fatal(err)
			}
			checkJSONText(t, "REST backup", restJSON(t, stored))
		}
		// As an older version might have stored it.
		if _, err := raw.Exec(`INSERT INTO events (type, source, time, data) VALUES ('report.received', 'old', ?, ?)`,
			time.Now().UTC().Format(time.RFC3339Nano), body); err != nil {
			t.Fatal(err)
		}
		res, err := raw.Exec(`INSERT INTO backups (source, kind, origin, status, created_at, raw) VALUES ('old', '', 'webhook', 'succeeded', ?, ?)`,
			time.Now().UTC().Format(time.RFC3339Nano), body)
		if err != nil {
			t.Fatal(err)
		}
		id, _ := res.LastInsertId()
		old, err := db.Backup(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		checkJSONText(t, "REST backup stored by an older version", restJSON(t, old))
		evs, err := db.ListEvents(ctx, head, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == 0 {
			t.Fatal("no event was stored")
		}
		checkJSONText(t, "REST events", restJSON(t, evs))
		for _, ev := range evs {
			p2, err := appendP2Event(nil, ev)
			if err != nil {
				t.Fatalf("encode event %d: %v", ev.ID, err)
			}
			checkJSONText(t, "protocol 2 frame", p2)
			p1, err := json.Marshal(p1Message(ev))
			if err != nil {
				t.Fatalf("encode event %d for protocol 1: %v", ev.ID, err)
			}
			checkJSONText(t, "protocol 1 frame", p1)
		}
	})
}

// restJSON is what the REST API writes for v.
func restJSON(t *testing.T, v any) []byte {
	t.Helper()
	w := httptest.NewRecorder()
	httpapi.WriteJSON(w, 200, v)
	return w.Body.Bytes()
}

func checkJSONText(t *testing.T, what string, b []byte) {
	t.Helper()
	if !utf8.Valid(b) {
		t.Fatalf("%s is not valid UTF-8: %q", what, b)
	}
	if !json.Valid(b) {
		t.Fatalf("%s is not valid JSON: %q", what, b)
	}
}
