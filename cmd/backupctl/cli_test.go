package main_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/backupd/backupd/internal/testdaemon"
)

const token = "s3cret-token-for-tests-0123456789"

func TestExitCodes(t *testing.T) {
	d := testdaemon.Start(t, testdaemon.Options{Config: `
sources:
  boom:
    kind: command
    command: ["sh", "-c", "echo partial; echo 'pg_dump: connection refused' >&2; exit 3"]
`})
	ctx := context.Background()
	cases := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"failed backup", []string{"run", "boom", "--wait"}, 1, "connection refused"},
		{"unknown source", []string{"run", "nope"}, 1, `no source named "nope"; backupctl sources lists them`},
		{"bad id", []string{"status", "../1"}, 2, "positive integer"},
		{"missing arg", []string{"status"}, 2, "accepts 1 arg"},
		{"unknown flag", []string{"list", "--frob"}, 2, "unknown flag"},
		{"unknown command", []string{"frob"}, 2, "unknown command"},
		{"misspelt event type", []string{"tail", "--type", "backup.succeded"}, 2, `--type "backup.succeded" is not an event type`},
		{"bad output", []string{"-o", "xml", "list"}, 2, "table or json"},
		{"unreachable", []string{"--server", "http://127.0.0.1:1", "list"}, 3,
			"backupctl: cannot reach backupd at http://127.0.0.1:1: connection refused; check --server (or BACKUPD_URL) and that the daemon runs (backupd serve)\n"},
		{"ok", []string{"sources"}, 0, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, errOut, code := d.Backupctl(ctx, c.args...)
			if code != c.code || !strings.Contains(errOut, c.stderr) {
				t.Fatalf("backupctl %v: exit %d, stderr %q; want exit %d, stderr containing %q", c.args, code, errOut, c.code, c.stderr)
			}
		})
	}
}

func TestTokensRequired(t *testing.T) {
	d := testdaemon.Start(t, testdaemon.Options{Token: token, Config: "auth:\n  tokens: [\"" + token + "\"]\n"})
	resp, err := http.Get(d.URL + "/api/v1/backups")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 401 || resp.Header.Get("Content-Type") != "application/problem+json" || resp.Header.Get("WWW-Authenticate") == "" {
		t.Fatalf("without token: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	req, _ := http.NewRequest("GET", d.URL+"/api/v1/backups", nil)
	req.Header.Set("Authorization", "Bearer wrong-token-wrong-token")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("wrong token: %d, want 401", resp.StatusCode)
	}
	if code, body := healthz(t, d.URL); code != 200 || !strings.Contains(body, `"checks":{"archives":"ok","catalog":"ok"}`) {
		t.Fatalf("healthz must stay open and say what it checked: %d %s", code, body)
	}
	// Without its archive directory the daemon cannot store a backup, and
	// says so; with it back, it is healthy again.
	archives := filepath.Join(d.DataDir, "archives")
	if err := os.Rename(archives, archives+".away"); err != nil {
		t.Fatal(err)
	}
	// Without the token, what failed is named, not described.
	waitHealthz(t, d.URL, 503, `"detail":"archives: failing"`)
	if _, errOut, code := d.Backupctl(context.Background(), "health"); code != 1 ||
		!strings.Contains(errOut, "the server cannot store backups now: archives: archive directory: stat "+archives) {
		t.Fatalf("backupctl health without archives: exit %d, %s", code, errOut)
	}
	if err := os.Rename(archives+".away", archives); err != nil {
		t.Fatal(err)
	}
	waitHealthz(t, d.URL, 200, `"status":"ok"`)
	if out, errOut, code := d.Backupctl(context.Background(), "--token", "", "health"); code != 0 ||
		!strings.Contains(out, "healthy (backupd ") || !strings.Contains(out, "archives ok, catalog ok") {
		t.Fatalf("backupctl health, no token needed: exit %d, %s %s", code, out, errOut)
	}
	if _, errOut, code := d.Backupctl(context.Background(), "--server", "http://127.0.0.1:1", "health"); code != 3 {
		t.Fatalf("backupctl health of no server: exit %d, %s", code, errOut)
	}
	ctx := context.Background()
	if _, errOut, code := d.Backupctl(ctx, "--token", "", "list"); code != 3 || !strings.Contains(errOut, "bearer token") {
		t.Fatalf("backupctl without token: exit %d, %s", code, errOut)
	}
	if out, errOut, code := d.Backupctl(ctx, "sources"); code != 0 || !strings.Contains(out, "catalog") {
		t.Fatalf("backupctl with token: exit %d, %s %s", code, out, errOut)
	}
}

// Every bad request gets problem+json naming the problem, and changes
// nothing in the catalog.
func TestBadRequestsGetProblems(t *testing.T) {
	d := testdaemon.Start(t, testdaemon.Options{})
	cases := []struct {
		method, path, body string
		status             int
		detail             string
	}{
		{"POST", "/api/v1/backups", `{"source":"nope"}`, 404, `no source named "nope"`},
		{"POST", "/api/v1/backups", `{"source":`, 400, "not valid JSON"},
		{"POST", "/api/v1/backups", `{"source":"catalog","x":1}`, 400, `unknown field "x"`},
		{"POST", "/api/v1/backups", `{}`, 400, `needs "source"`},
		{"POST", "/api/v1/backups", `{"source":"../../etc/passwd"}`, 400, "not a valid source name"},
		{"POST", "/api/v1/backups", `{"source":"a/b"}`, 400, "not a valid source name"},
		{"GET", "/api/v1/backups/abc", "", 400, "not a positive integer"},
		{"GET", "/api/v1/backups/-1", "", 400, "not a positive integer"},
		{"GET", "/api/v1/backups/..%2F..%2Fetc%2Fpasswd/archive", "", 400, "not a positive integer"},
		{"GET", "/api/v1/backups/99", "", 404, "does not exist"},
		{"GET", "/api/v1/backups/99/archive", "", 404, "does not exist"},
		{"GET", "/api/v1/backups?status=weird", "", 400, "not one of"},
		{"GET", "/api/v1/backups?limit=-4", "", 400, "limit"},
		{"GET", "/api/v1/backups?source=..%2Fx", "", 400, "not a valid source name"},
		{"DELETE", "/api/v1/backups/1", "", 405, "not allowed"},
		{"GET", "/api/v1/nothing", "", 404, "no such endpoint"},
	}
	// A body of another type is refused before it is read.
	req, _ := http.NewRequest("POST", d.URL+"/api/v1/backups", strings.NewReader(`{"source":"catalog"}`))
	req.Header.Set("Content-Type", "text/plain")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("text/plain POST: %v %v, want 415", resp, err)
	} else {
		resp.Body.Close()
	}
	for _, c := range cases {
		req, _ := http.NewRequest(c.method, d.URL+c.path, strings.NewReader(c.body))
		if c.body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var p struct {
			Status int    `json:"status"`
			Detail string `json:"detail"`
		}
		ct := resp.Header.Get("Content-Type")
		err = json.NewDecoder(resp.Body).Decode(&p)
		resp.Body.Close()
		if resp.StatusCode != c.status || ct != "application/problem+json" || err != nil ||
			p.Status != c.status || !strings.Contains(p.Detail, c.detail) {
			t.Errorf("%s %s: %d %s %+v (%v); want %d with detail containing %q", c.method, c.path, resp.StatusCode, ct, p, err, c.status, c.detail)
		}
	}
	evs, err := d.Client().Events(context.Background(), 0, 10)
	if err != nil || len(evs) != 0 {
		t.Fatalf("bad requests changed the catalog: events %+v, %v", evs, err)
	}
}

func healthz(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// waitHealthz polls /healthz until it answers code with a body holding
// want; the daemon reuses an answer for two seconds.
func waitHealthz(t *testing.T, url string, code int, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, body := healthz(t, url)
		if got == code && strings.Contains(body, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("healthz: %d %s, want %d with %q", got, body, code, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// A token without the scope a command needs: exit 3 and a message naming
// the token and the scope.
func TestScopeRefusedExitCode(t *testing.T) {
	const reader = "cli-reader-token-0123456789"
	d := testdaemon.Start(t, testdaemon.Options{
		Config: "auth:\n  tokens:\n    - {name: viewer, token: " + reader + ", scopes: [read]}\n", Token: reader})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, stderr, code := d.Backupctl(ctx, "sources"); code != 0 {
		t.Fatalf("sources with a read token: exit %d: %s", code, stderr)
	}
	_, stderr, code := d.Backupctl(ctx, "run", "catalog")
	if code != 3 || !strings.Contains(stderr, `"viewer"`) || !strings.Contains(stderr, `"run" that backupctl run needs`) || strings.Contains(stderr, "/api/v1") {
		t.Fatalf("run with a read token: exit %d, %q; want 3 naming the token and the scope", code, stderr)
	}
}
