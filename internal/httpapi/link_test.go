package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
)

// A download link opens the archive it was made for, until it expires,
// and nothing else; without one the bearer token is still required.
func TestDownloadLinks(t *testing.T) {
	s := New(Config{Tokens: []Token{{Name: "t", Value: "the-token", Scopes: []string{"admin"}}}})
	now := time.Unix(1_800_000_000, 0)
	s.now = func() time.Time { return now }
	r := chi.NewRouter()
	r.With(s.requireTokenOrLink).Get("/api/v1/backups/{id}/archive", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "archive %s", chi.URLParam(r, "id"))
	})
	get := func(path, token string) (int, string) {
		t.Helper()
		req := httptest.NewRequest("GET", path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		if w.Code != 200 {
			var p struct{ Detail string }
			if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || w.Header().Get("Content-Type") != "application/problem+json" {
				t.Fatalf("GET %s: %d is not problem+json: %s", path, w.Code, w.Body)
			}
			return w.Code, p.Detail
		}
		return w.Code, w.Body.String()
	}
	exp := now.Add(linkTTL).Unix()
	link := fmt.Sprintf("/api/v1/backups/7/archive?expires=%d&sig=%s", exp, s.linkSig(7, exp))

	if code, body := get(link, ""); code != 200 || body != "archive 7" {
		t.Fatalf("valid link: %d %s", code, body)
	}
	if code, _ := get("/api/v1/backups/7/archive", ""); code != 401 {
		t.Fatalf("no link, no token: %d, want 401", code)
	}
	if code, body := get("/api/v1/backups/7/archive", "the-token"); code != 200 || body != "archive 7" {
		t.Fatalf("token: %d %s", code, body)
	}
	for name, path := range map[string]string{
		"another backup":   strings.Replace(link, "/7/", "/8/", 1),
		"a later expiry":   strings.Replace(link, fmt.Sprint(exp), fmt.Sprint(exp+3600), 1),
		"a changed sig":    link[:len(link)-1] + otherHexDigit(link[len(link)-1]),
		"no expiry":        fmt.Sprintf("/api/v1/backups/7/archive?sig=%s", s.linkSig(7, exp)),
		"another daemon's": fmt.Sprintf("/api/v1/backups/7/archive?expires=%d&sig=%s", exp, New(Config{}).linkSig(7, exp)),
	} {
		if code, detail := get(path, ""); code != 401 || !strings.Contains(detail, "not valid") {
			t.Errorf("%s: %d %q, want 401 saying the link is not valid", name, code, detail)
		}
	}
	now = now.Add(linkTTL + time.Second)
	if code, detail := get(link, ""); code != 401 || !strings.Contains(detail, "expired") {
		t.Fatalf("expired link: %d %q, want 401 saying it expired", code, detail)
	}
}

// otherHexDigit is a hex digit other than c: changing a signature's last
// digit to a fixed one would leave it unchanged one time in sixteen.
func otherHexDigit(c byte) string {
	if c == '0' {
		return "1"
	}
	return "0"
}
