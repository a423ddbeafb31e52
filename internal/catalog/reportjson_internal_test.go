package catalog

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/backupd/backupd/internal/domain"
)

// reportJSON must give exactly the bytes json.Marshal does.
func FuzzReportJSON(f *testing.F) {
	for _, s := range []string{`{"source":"db"}`, `{"a": 1}`, "{\"a\":\n1}", `{"x":"<b>&amp;</b>"}`,
		`{"s":"\u2028"}`, "{\"s\":\"\xe2\x80\xa8\"}", `{"é":"ü","n":[1,2,{"k":null}]}`, `{}`, `{"q":"a\"b"}`} {
		f.Add([]byte(s), "pg", "")
	}
	f.Fuzz(func(t *testing.T, raw []byte, source, verify string) {
		if !json.Valid(raw) {
			return // the webhook parser lets only JSON through
		}
		now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
		b := domain.Backup{ID: 7, Source: source, Origin: domain.OriginWebhook, Status: domain.StatusSucceeded,
			CreatedAt: now, ReceivedAt: &now, WebhookID: "msg_1", Raw: raw, VerifyStatus: verify}
		want, werr := json.Marshal(b)
		got, gerr := reportJSON(b)
		if (werr != nil) != (gerr != nil) || string(got) != string(want) {
			t.Fatalf("reportJSON(raw %q) =\n %s (%v)\njson.Marshal:\n %s (%v)", raw, got, gerr, want, werr)
		}
	})
}
