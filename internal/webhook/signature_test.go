package webhook_test

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/backupd/backupd/internal/domain"
	"github.com/backupd/backupd/internal/webhook"
)

var (
	secretOld = "whsec_" + base64.StdEncoding.EncodeToString([]byte("the old secret, still accepted"))
	secretNew = "whsec_" + base64.StdEncoding.EncodeToString([]byte("the new secret after rotation"))
)

// key decodes secret; "" gives nil (an unsigned request).
func key(t *testing.T, secret string) []byte {
	t.Helper()
	if secret == "" {
		return nil
	}
	k, err := webhook.ParseSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func signed(t *testing.T, secret, id string, ts time.Time, body string) http.Header {
	t.Helper()
	h := http.Header{}
	webhook.SignHeaders(h, key(t, secret), id, ts, []byte(body))
	return h
}

func headers(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

func TestVerify(t *testing.T) {
	v, err := webhook.NewVerifier([]string{secretNew, secretOld}, 0)
	if err != nil {
		t.Fatal(err)
	}
	body := `{"source":"pg"}`
	now := time.Now()
	other := "whsec_" + base64.StdEncoding.EncodeToString([]byte("somebody else"))
	several := signed(t, other, "msg_1", now, body)
	several.Set(webhook.HeaderSignature, "v1a,xyz "+several.Get(webhook.HeaderSignature)+" "+
		webhook.Sign(key(t, secretOld), "msg_1", now, []byte(body)))
	tests := []struct {
		name   string
		h      http.Header
		body   string
		reason string // "" = accepted
	}{
		{"valid", signed(t, secretNew, "msg_1", now, body), body, ""},
		{"rotated: second secret", signed(t, secretOld, "msg_1", now, body), body, ""},
		{"several signatures, one good", several, body, ""},
		{"body changed", signed(t, secretNew, "msg_1", now, body), body + " ", "bad_signature"},
		{"wrong secret", signed(t, other, "msg_1", now, body), body, "bad_signature"},
		{"too old", signed(t, secretNew, "msg_1", now.Add(-6*time.Minute), body), body, "timestamp_too_old"},
		{"too new", signed(t, secretNew, "msg_1", now.Add(6*time.Minute), body), body, "timestamp_too_new"},
		{"just within tolerance", signed(t, secretNew, "msg_1", now.Add(-4*time.Minute), body), body, ""},
		{"missing signature", headers(webhook.HeaderID, "m", webhook.HeaderTimestamp, strconv.FormatInt(now.Unix(), 10)), body, "missing_header"},
		{"no headers", http.Header{}, body, "missing_header"},
		{"timestamp not a number", headers(webhook.HeaderID, "m", webhook.HeaderTimestamp, "yesterday", webhook.HeaderSignature, "v1,AA=="), body, "bad_header"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := v.Verify(tt.h, []byte(tt.body))
			if tt.reason == "" {
				if err != nil || id != "msg_1" {
					t.Fatalf("Verify = %q, %v; want msg_1, nil", id, err)
				}
				return
			}
			var e *domain.Error
			if err == nil || domain.ErrorCode(err) != domain.EUNAUTHORIZED {
				t.Fatalf("Verify err = %v, want %s", err, domain.EUNAUTHORIZED)
			}
			e = err.(*domain.Error)
			if got := e.Extra["reason"]; got != tt.reason {
				t.Fatalf("reason = %v (%s), want %s", got, e.Message, tt.reason)
			}
			if !strings.Contains(e.Message, strings.Fields(strings.ReplaceAll(tt.reason, "_", " "))[0]) && tt.reason != "bad_signature" && tt.reason != "bad_header" {
				t.Errorf("message %q does not say why", e.Message)
			}
		})
	}
}

func TestParseSecretRefusesGarbage(t *testing.T) {
	for _, s := range []string{"", "secret", "whsec_", "whsec_!!!"} {
		if _, err := webhook.ParseSecret(s); err == nil {
			t.Errorf("ParseSecret(%q) = nil error", s)
		}
	}
}
