package main_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/backupd/backupd/internal/domain"
	"github.com/backupd/backupd/internal/testdaemon"
)

// call sends one request to d with the given headers ("Host" sets the Host
// header) and returns the status and the decoded JSON answer.
func call(t *testing.T, d *testdaemon.Daemon, method, path, body string, hdr ...string) (int, map[string]any, http.Header) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, d.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "Host" {
			req.Host = hdr[i+1]
			continue
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	if resp.StatusCode >= 400 && resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("%s %s: %d answered with %q, want problem+json: %s", method, path, resp.StatusCode, resp.Header.Get("Content-Type"), raw)
	}
	return resp.StatusCode, out, resp.Header
}

func backupCount(t *testing.T, d *testdaemon.Daemon) int {
	t.Helper()
	list, _, err := d.Client().Backups(context.Background(), domainFilter())
	if err != nil {
		t.Fatal(err)
	}
	return len(list)
}

const evil = "http://evil.example"

// TestCrossSiteAndHost: on the default, tokenless daemon, a page of another
// site can neither change anything (whatever the content type) nor read
// anything through a rebound DNS name; the dashboard cannot be framed.
func TestCrossSiteAndHost(t *testing.T) {
	d := testdaemon.Start(t, testdaemon.Options{Config: "allowed_hosts: [backup.internal]\n"})
	for _, tt := range []struct {
		name, method, path, body string
		hdr                      []string
		want                     int
	}{
		{"text/plain POST from another site", "POST", "/api/v1/backups", `{"source":"catalog"}`,
			[]string{"Content-Type", "text/plain", "Origin", evil, "Sec-Fetch-Site", "cross-site"}, 403},
		{"cross-site POST, Origin only", "POST", "/api/v1/backups", `{"source":"catalog"}`,
			[]string{"Content-Type", "application/json", "Origin", evil}, 403},
		{"form-encoded cancel from another site", "POST", "/api/v1/backups/1/cancel", "x=1",
			[]string{"Content-Type", "application/x-www-form-urlencoded", "Origin", evil}, 403},
		{"text/plain POST without Origin", "POST", "/api/v1/backups", `{"source":"catalog"}`,
			[]string{"Content-Type", "text/plain"}, 415},
		{"form-encoded cancel without Origin", "POST", "/api/v1/backups/1/cancel", "",
			[]string{"Content-Type", "application/x-www-form-urlencoded"}, 415},
		{"POST body without a content type", "POST", "/api/v1/backups", `{"source":"catalog"}`, nil, 415},
		{"rebound name reads the API", "GET", "/api/v1/backups", "", []string{"Host", "evil.example:" + port(d)}, 421},
		{"rebound name downloads", "GET", "/api/v1/backups/1/archive", "", []string{"Host", "evil.example"}, 421},
		{"rebound name gets the page", "GET", "/", "", []string{"Host", "evil.example"}, 421},
		{"rebound name, same-origin POST", "POST", "/api/v1/backups", `{"source":"catalog"}`,
			[]string{"Host", "evil.example", "Content-Type", "application/json", "Sec-Fetch-Site", "same-origin"}, 421},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, body, _ := call(t, d, tt.method, tt.path, tt.body, tt.hdr...)
			if code != tt.want {
				t.Fatalf("status %d (%v), want %d", code, body, tt.want)
			}
			if body["detail"] == "" {
				t.Errorf("no detail in %v", body)
			}
		})
	}
	if n := backupCount(t, d); n != 0 {
		t.Fatalf("%d backups queued by refused requests", n)
	}
	// What the daemon does serve.
	for _, host := range []string{"localhost:" + port(d), "127.0.0.1:" + port(d), "[::1]:" + port(d), "backup.internal", "BACKUP.internal:" + port(d), "app.localhost"} {
		if code, body, _ := call(t, d, "GET", "/api/v1/sources", "", "Host", host); code != 200 {
			t.Errorf("Host %s: %d %v, want 200", host, code, body)
		}
	}
	code, body, _ := call(t, d, "POST", "/api/v1/backups", `{"source":"catalog"}`,
		"Content-Type", "application/json; charset=utf-8", "Sec-Fetch-Site", "same-origin", "Origin", d.URL)
	if code != http.StatusAccepted {
		t.Fatalf("same-origin JSON POST: %d %v", code, body)
	}
	// A WebSocket under a rebound name is refused before the upgrade.
	ws := strings.Replace(d.URL, "http", "ws", 1) + "/api/v1/ws"
	_, resp, err := websocket.DefaultDialer.Dial(ws, http.Header{"Host": {"evil.example"}, "Origin": {"http://evil.example"}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusMisdirectedRequest {
		t.Fatalf("WebSocket under a rebound name: %v %v, want 421", err, resp)
	}
	_, _, hdr := call(t, d, "GET", "/", "")
	csp := hdr.Get("Content-Security-Policy")
	for _, want := range []string{"frame-ancestors 'none'", "script-src 'self'", "default-src 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("Content-Security-Policy %q lacks %s", csp, want)
		}
	}
	if got := hdr.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("X-Content-Type-Options %q, want nosniff", got)
	}
}

// TestScopedTokens: each token does what its scopes allow and gets 403
// naming the scope for the rest; logs name tokens, never their values.
func TestScopedTokens(t *testing.T) {
	const (
		admin    = "admin-token-0123456789abcdef"
		reader   = "reader-token-0123456789abcdef"
		runner   = "runner-token-0123456789abcdef"
		fetcher  = "fetcher-token-0123456789abcdef"
		readRun  = "readrun-token-0123456789abcdef"
		tokenCfg = "auth:\n  tokens:\n" +
			"    - " + admin + "\n" +
			"    - {name: prometheus, token: " + reader + ", scopes: [read]}\n" +
			"    - {name: cron, token: " + runner + ", scopes: [run]}\n" +
			"    - {name: mirror, token: " + fetcher + ", scopes: [download]}\n" +
			"    - {name: ops, token: " + readRun + ", scopes: [read, run]}\n"
	)
	d := testdaemon.Start(t, testdaemon.Options{Config: tokenCfg, Token: admin})
	b, err := d.Client().CreateBackup(context.Background(), "catalog")
	if err != nil {
		t.Fatal(err)
	}
	if got := d.WaitBackup(b.ID); got.Status != "succeeded" {
		t.Fatalf("backup: %s %s", got.Status, got.Error)
	}
	archive := "/api/v1/backups/" + itoa(b.ID) + "/archive"
	jsonCT := []string{"Content-Type", "application/json"}
	for _, tt := range []struct {
		tok, method, path, body string
		want                    int
		scope                   string
	}{
		{reader, "GET", "/api/v1/backups", "", 200, ""},
		{reader, "GET", "/api/v1/sources", "", 200, ""},
		{reader, "GET", "/api/v1/events", "", 200, ""},
		{reader, "GET", "/metrics", "", 200, ""},
		{reader, "POST", "/api/v1/backups", `{"source":"catalog"}`, 403, "run"},
		{reader, "GET", archive, "", 403, "download"},
		{reader, "POST", archive + "/link", "", 403, "download"},
		{reader, "GET", "/api/v1/webhooks/endpoints", "", 403, "admin"},
		{runner, "GET", "/api/v1/backups", "", 403, "read"},
		{runner, "POST", "/api/v1/backups/" + itoa(b.ID) + "/cancel", "", 409, ""},
		{fetcher, "GET", archive, "", 200, ""},
		{fetcher, "POST", archive + "/link", "", 200, ""},
		{fetcher, "GET", "/metrics", "", 403, "read"},
		{readRun, "POST", "/api/v1/backups", `{"source":"catalog"}`, 202, ""},
		{admin, "GET", "/api/v1/webhooks/endpoints", "", 200, ""},
		{"not-a-token-at-all-0123456789", "GET", "/api/v1/backups", "", 401, ""},
		{reader + "x", "GET", "/api/v1/backups", "", 401, ""},
		{reader[:20], "GET", "/api/v1/backups", "", 401, ""},
	} {
		code, body, _ := call(t, d, tt.method, tt.path, tt.body, append([]string{"Authorization", "Bearer " + tt.tok}, jsonCT...)...)
		if code != tt.want {
			t.Errorf("%s %s with %.6s...: %d %v, want %d", tt.method, tt.path, tt.tok, code, body, tt.want)
			continue
		}
		if tt.scope != "" && (body["scope"] != tt.scope || !strings.Contains(body["detail"].(string), `"`+tt.scope+`"`)) {
			t.Errorf("%s %s: 403 %v does not name the scope %s", tt.method, tt.path, body, tt.scope)
		}
	}
	// A cross-site POST is refused even with a token that may run.
	if code, body, _ := call(t, d, "POST", "/api/v1/backups", `{"source":"catalog"}`,
		"Authorization", "Bearer "+readRun, "Content-Type", "application/json", "Origin", evil); code != 403 {
		t.Errorf("cross-site POST with a token: %d %v, want 403", code, body)
	}
	// With tokens, any Host is served: a rebinding page has no token.
	if code, body, _ := call(t, d, "GET", "/api/v1/backups", "", "Authorization", "Bearer "+reader, "Host", "backup.example.com"); code != 200 {
		t.Errorf("another Host with a token: %d %v", code, body)
	}
	_, who, _ := call(t, d, "GET", "/api/v1/auth", "", "Authorization", "Bearer "+readRun)
	if who["name"] != "ops" || len(who["scopes"].([]any)) != 2 {
		t.Errorf("GET /api/v1/auth: %v", who)
	}
	// The WebSocket needs read.
	ws := strings.Replace(d.URL, "http", "ws", 1) + "/api/v1/ws?token="
	if c, _, err := websocket.DefaultDialer.Dial(ws+reader, nil); err != nil {
		t.Errorf("WebSocket with a read token: %v", err)
	} else {
		c.Close()
	}
	if _, resp, err := websocket.DefaultDialer.Dial(ws+runner, nil); err == nil || resp == nil || resp.StatusCode != 403 {
		t.Errorf("WebSocket with a run-only token: %v %v, want 403", err, resp)
	}
	logged, err := os.ReadFile(d.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{admin, reader, runner, fetcher, readRun} {
		if strings.Contains(string(logged), secret) {
			t.Errorf("the log holds a token's value (%.6s...)", secret)
		}
	}
	if !strings.Contains(string(logged), "token=cron") {
		t.Errorf("the log does not name the token refused a scope:\n%s", logged)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// port is the port d listens on.
func port(d *testdaemon.Daemon) string {
	_, p, _ := net.SplitHostPort(d.Addr)
	return p
}

func domainFilter() domain.BackupFilter { return domain.BackupFilter{Limit: domain.MaxLimit} }
