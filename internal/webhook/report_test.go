package webhook_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/backupd/backupd/internal/domain"
	"github.com/backupd/backupd/internal/webhook"
)

func TestParseReport(t *testing.T) {
	body := `{"source":"orders db","status":"Success","started_at":"2026-01-02T03:04:05Z","finished_at":1767323400.5,
		"size_bytes":"1234","sha256":"` + strings.Repeat("AB", 32) + `","location":"s3://b/k","message":"ok","extra":{"x":[1,2]}}`
	b, err := webhook.ParseReport([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if b.Source != "orders-db" || b.Status != domain.StatusSucceeded || b.SizeBytes != 1234 ||
		b.SHA256 != strings.Repeat("ab", 32) || b.Archive != "s3://b/k" || b.Message != "ok" {
		t.Errorf("parsed %+v", b)
	}
	if b.StartedAt == nil || !b.StartedAt.Equal(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) {
		t.Errorf("started_at = %v", b.StartedAt)
	}
	if b.FinishedAt == nil || b.FinishedAt.Unix() != 1767323400 {
		t.Errorf("finished_at = %v", b.FinishedAt)
	}
	if string(b.Raw) != body {
		t.Errorf("raw is not the body as received")
	}
}

func TestParseReportOddFieldsAreKeptNotRefused(t *testing.T) {
	body := `{"source":42,"status":["x"],"size_bytes":-5,"sha256":"nothex","started_at":"last tuesday","finished_at":true,"message":{"a":1}}`
	b, err := webhook.ParseReport([]byte(body))
	if err != nil {
		t.Fatalf("odd-typed fields refused: %v", err)
	}
	if b.Source != webhook.UnknownSource || b.SizeBytes != 0 || b.SHA256 != "" || b.StartedAt != nil || b.FinishedAt != nil || b.Message != "" {
		t.Errorf("odd fields were used: %+v", b)
	}
	// A status we cannot read is never taken for a success.
	if b.Status != domain.StatusFailed || b.Error == "" {
		t.Errorf("status = %s, error %q; want failed with a reason", b.Status, b.Error)
	}
	if string(b.Raw) != body {
		t.Errorf("raw = %s", b.Raw)
	}
}

func TestParseReportStatus(t *testing.T) {
	for body, want := range map[string]domain.Status{
		`{}`:                                domain.StatusSucceeded,
		`{"error":"disk full"}`:             domain.StatusFailed,
		`{"status":"FAILED"}`:               domain.StatusFailed,
		`{"status":"cancelled"}`:            domain.StatusCanceled,
		`{"status":"completed"}`:            domain.StatusSucceeded,
		`{"status":"weird"}`:                domain.StatusFailed,
		`{"status":0}`:                      domain.StatusFailed,
		`{"status":"running"}`:              domain.StatusRunning,
		`{"status":null,"error":"oops"}`:    domain.StatusFailed,
		`{"status":"succeeded","error":""}`: domain.StatusSucceeded,
	} {
		b, err := webhook.ParseReport([]byte(body))
		if err != nil || b.Status != want {
			t.Errorf("%s: status %s, %v; want %s", body, b.Status, err, want)
		}
	}
}

func TestParseReportRefusesNonObjects(t *testing.T) {
	for _, body := range []string{``, `[1]`, `"x"`, `null`, `42`, `{"a":1`, `{"a":1} {}`, `{"a":1}x`} {
		if _, err := webhook.ParseReport([]byte(body)); domain.ErrorCode(err) != domain.EINVALID {
			t.Errorf("ParseReport(%q) err = %v, want %s", body, err, domain.EINVALID)
		}
	}
}

func TestSanitizeSource(t *testing.T) {
	for in, want := range map[string]string{
		"pg-main": "pg-main", "../etc/passwd": "etc-passwd", "": "unknown", "...": "unknown",
		"héllo wörld": "h-llo-w-rld", strings.Repeat("a", 100): strings.Repeat("a", 64),
	} {
		if got := webhook.SanitizeSource(in); got != want || !domain.ValidName(got) {
			t.Errorf("SanitizeSource(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzParseReport(f *testing.F) {
	for _, s := range []string{`{}`, `{"source":"pg","status":"ok","size_bytes":1e3}`, `[1]`, `{"finished_at":1e300}`,
		`{"started_at":"2026-01-02T03:04:05.123+02:00","sha256":"` + strings.Repeat("f", 64) + `"}`,
		`{"source":"\u0000..\/x","status":"\ud800"}`, `{"size_bytes":9223372036854775808}`, `null`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		b, err := webhook.ParseReport(body)
		if err != nil {
			if domain.ErrorCode(err) != domain.EINVALID {
				t.Fatalf("error code %s", domain.ErrorCode(err))
			}
			return
		}
		var obj map[string]json.RawMessage
		if json.Unmarshal(body, &obj) != nil {
			t.Fatalf("accepted a body that is not a JSON object: %q", body)
		}
		if !domain.ValidName(b.Source) || !b.Status.Valid() || b.SizeBytes < 0 || string(b.Raw) != string(body) {
			t.Fatalf("bad record from %q: %+v", body, b)
		}
		for _, tm := range []*time.Time{b.StartedAt, b.FinishedAt} {
			if tm != nil && (tm.Year() < 0 || tm.Year() > 9999) {
				t.Fatalf("time out of range: %v", tm)
			}
		}
	})
}
