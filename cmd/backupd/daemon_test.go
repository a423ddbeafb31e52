package main_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/backupd/backupd/internal/testdaemon"
	"github.com/backupd/backupd/internal/testenv"
	"github.com/backupd/backupd/internal/webhook"
)

func TestMain(m *testing.M) { testdaemon.Main(m) }

var secret = "whsec_" + base64.StdEncoding.EncodeToString([]byte("a-test-secret-of-32-bytes-length"))

const token = "daemon-test-token-0123456789"

type msg map[string]any

func dial(t *testing.T, d *testdaemon.Daemon, query string) *websocket.Conn {
	t.Helper()
	url := strings.Replace(d.URL, "http", "ws", 1) + "/api/v1/ws" + query
	conn, resp, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatalf("dial %s: %v (%v)", url, err, resp)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func read(t *testing.T, c *websocket.Conn) msg {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var m msg
	if err := c.ReadJSON(&m); err != nil {
		t.Fatalf("read: %v", err)
	}
	return m
}

// readUntil skips messages until one has eventType typ.
func readUntil(t *testing.T, c *websocket.Conn, typ string) msg {
	t.Helper()
	for {
		if m := read(t, c); m["eventType"] == typ {
			return m
		}
	}
}

// hello opens a protocol 2 session from now on.
func hello(t *testing.T, c *websocket.Conn) {
	t.Helper()
	readUntil(t, c, "socket_connected")
	if err := c.WriteJSON(msg{"eventType": "hello", "protocol": 2}); err != nil {
		t.Fatal(err)
	}
	readUntil(t, c, "welcome")
}

// A row committed by another process (the sqlite3 shell) reaches a
// WebSocket client through the watcher.
func TestForeignRowReachesWebSocketClient(t *testing.T) {
	sqlite3 := testenv.Command(t, "sqlite3")
	d := testdaemon.Start(t, testdaemon.Options{Config: "auth:\n  tokens: [\"" + token + "\"]\n", Token: token})
	c := dial(t, d, "?token="+token)
	hello(t, c)
	start := time.Now()
	out, err := exec.Command(sqlite3, d.DataDir+"/catalog.db",
		`PRAGMA busy_timeout=5000; INSERT INTO events (type, source, time, data) VALUES ('report.received', 'shell', strftime('%Y-%m-%dT%H:%M:%fZ','now'), '{"note":"from sqlite3"}');`).CombinedOutput()
	if err != nil {
		t.Fatalf("sqlite3: %v %s", err, out)
	}
	m := readUntil(t, c, "event")
	t.Logf("row inserted by sqlite3 reached the client after %s", time.Since(start).Round(time.Millisecond))
	if m["type"] != "report.received" || m["source"] != "shell" || m["id"].(float64) != 1 {
		t.Fatalf("event = %v", m)
	}
}

func TestWebSocketNeedsToken(t *testing.T) {
	d := testdaemon.Start(t, testdaemon.Options{Config: "auth:\n  tokens: [\"" + token + "\"]\n", Token: token})
	url := strings.Replace(d.URL, "http", "ws", 1) + "/api/v1/ws"
	_, resp, err := websocket.DefaultDialer.Dial(url, nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("dial without token: %v, %v", err, resp)
	}
	_, resp, err = websocket.DefaultDialer.Dial(url+"?token=wrong-token-wrong-token", nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("dial with a wrong token: %v, %v", err, resp)
	}
}

// Protocol 1, message for message, against the real daemon: the original
// client's keys (event instead of eventType) included.
func TestProtocol1OverDaemon(t *testing.T) {
	d := testdaemon.Start(t, testdaemon.Options{})
	c := dial(t, d, "")
	greet := read(t, c)
	if greet["eventType"] != "socket_connected" || greet["socket_data"].(map[string]any)["id"] == "" {
		t.Fatalf("greeting = %v", greet)
	}
	c.WriteJSON(msg{"event": "register", "socket_data": "ID_UNICO_PARA_EL_CLIENTE"})
	added := read(t, c)
	if added["eventType"] != "socket_added" || added["socket_data"].(map[string]any)["socket_data"] != "ID_UNICO_PARA_EL_CLIENTE" {
		t.Fatalf("socket_added = %v", added)
	}
	c.WriteJSON(msg{"event": "ping"})
	if m := read(t, c); m["eventType"] != "pong" {
		t.Fatalf("after ping: %v", m)
	}
	if _, err := d.Client().CreateBackup(context.Background(), "catalog"); err != nil {
		t.Fatal(err)
	}
	if m := read(t, c); m["eventType"] != "backup" || m["type"] != "backup.queued" {
		t.Fatalf("backup message = %v", m)
	}
}

// A signed webhook from outside is stored and reaches protocol 2 clients.
func TestSignedWebhookReachesClient(t *testing.T) {
	d := testdaemon.Start(t, testdaemon.Options{Config: "webhooks:\n  secrets: [\"" + secret + "\"]\n"})
	c := dial(t, d, "")
	hello(t, c)
	body := []byte(`{"source":"hfsql","status":"succeeded","size_bytes":1234,"extra":{"odd":[1,"x"]}}`)
	key, err := webhook.ParseSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	post := func(id string) *http.Response {
		req, _ := http.NewRequest("POST", d.URL+"/api/v1/webhooks/backup", bytes.NewReader(body))
		webhook.SignHeaders(req.Header, key, id, time.Now(), body)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	if resp := post("msg_1"); resp.StatusCode/100 != 2 {
		t.Fatalf("webhook: %d", resp.StatusCode)
	}
	m := readUntil(t, c, "event")
	if m["type"] != "report.received" || m["source"] != "hfsql" {
		t.Fatalf("event = %v", m)
	}
	data := m["data"].(map[string]any)
	var raw map[string]any
	rawJSON, _ := json.Marshal(data["raw"])
	json.Unmarshal(rawJSON, &raw)
	if data["origin"] != "webhook" || data["size_bytes"].(float64) != 1234 || raw["extra"] == nil {
		t.Fatalf("record = %v", data)
	}
	// A redelivery is acknowledged and creates nothing new.
	if resp := post("msg_1"); resp.StatusCode/100 != 2 {
		t.Fatalf("redelivery: %d", resp.StatusCode)
	}
	if evs, _ := d.Client().Events(context.Background(), 0, 10); len(evs) != 1 {
		t.Fatalf("events after a redelivery = %d, want 1", len(evs))
	}
	// An unsigned one is refused.
	resp, err := http.Post(d.URL+"/api/v1/webhooks/backup", "application/json", bytes.NewReader(body))
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("unsigned webhook: %v %v", resp, err)
	}
	if h := resp.Header.Get("WWW-Authenticate"); h != "" {
		t.Errorf("a signed endpoint's 401 asks for %q; a bearer token would not help", h)
	}
}

func TestMetricsExposed(t *testing.T) {
	d := testdaemon.Start(t, testdaemon.Options{})
	c := dial(t, d, "")
	readUntil(t, c, "socket_connected")
	b, err := d.Client().CreateBackup(context.Background(), "catalog")
	if err != nil {
		t.Fatal(err)
	}
	if got := d.WaitBackup(b.ID); got.Status != "succeeded" {
		t.Fatalf("backup: %+v", got)
	}
	for i := 0; i < 3; i++ { // queued, started, succeeded: all published
		readUntil(t, c, "backup")
	}
	// One refused webhook, so that the rejection counter has a series.
	if resp, err := http.Post(d.URL+"/api/v1/webhooks/backup", "application/json", strings.NewReader("{}")); err != nil || resp.StatusCode != 401 {
		t.Fatalf("unsigned webhook: %v %v", resp, err)
	}
	body := scrape(t, d)
	for _, name := range []string{
		"backupd_webhooks_received_total", "backupd_webhooks_rejected_total{", "backupd_events_emitted_total 3",
		"backupd_ws_clients 1", "backupd_ws_slow_disconnects_total", `backupd_backup_duration_seconds_count{source="catalog",status="succeeded"} 1`,
		`backupd_backup_size_bytes_count{source="catalog"} 1`, "backupd_outbound_attempts_total", "backupd_outbound_failures_total",
	} {
		if !strings.Contains(body, name) {
			t.Errorf("/metrics lacks %s", name)
		}
	}

	// The time of the last success comes from the catalog: right after the
	// backup, and after a restart that reset every counter.
	got, err := d.Client().Backup(context.Background(), b.ID)
	if err != nil || got.FinishedAt == nil {
		t.Fatalf("backup %d: %+v %v", b.ID, got, err)
	}
	wants := []string{
		fmt.Sprintf(`backupd_last_success_timestamp_seconds{source="catalog"} %g`, float64(got.FinishedAt.UnixNano())/1e9),
		fmt.Sprintf(`backupd_last_success_size_bytes{source="catalog"} %g`, float64(got.SizeBytes)),
		`backupd_archives{source="catalog"} 1`,
		// The backup is in the repository: no tar.zst archive bytes, and
		// what it added is what the repository holds.
		`backupd_archive_bytes{source="catalog"} 0`,
		fmt.Sprintf(`backupd_backup_added_bytes{source="catalog"} %g`, float64(got.AddedBytes)),
		fmt.Sprintf("backupd_repository_bytes %g", float64(got.AddedBytes)),
	}
	if got.AddedBytes == 0 || got.Snapshot == "" {
		t.Fatalf("backup %d: snapshot %q, added %d", got.ID, got.Snapshot, got.AddedBytes)
	}
	for _, when := range []string{"after the backup", "after a restart"} {
		if when == "after a restart" {
			d.Restart()
		}
		body := scrape(t, d)
		for _, want := range wants {
			if !strings.Contains(body, want) {
				t.Errorf("%s: /metrics lacks %s", when, want)
			}
		}
	}
}

// scrape returns the daemon's /metrics page.
func scrape(t *testing.T, d *testdaemon.Daemon) string {
	t.Helper()
	resp, err := http.Get(d.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(body)
}

// TestSecondDaemonOnDataDir: while one daemon runs a backup, a second
// serve or migrate on its data_dir exits 1 at once, naming the directory
// and the first one's PID, and the running backup is not disturbed.
func TestSecondDaemonOnDataDir(t *testing.T) {
	backupd, _ := testdaemon.Binaries(t)
	d := testdaemon.Start(t, testdaemon.Options{
		Config: "sources:\n  slow:\n    kind: command\n    command: [\"sh\", \"-c\", \"sleep 2; echo done\"]\n"})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b, err := d.Client().CreateBackup(ctx, "slow")
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"serve", "--data-dir", d.DataDir, "--listen", testenv.FreeAddr(t)},
		{"migrate", "--data-dir", d.DataDir},
	} {
		cmd := exec.CommandContext(ctx, backupd, args...)
		out, err := cmd.CombinedOutput()
		if code := cmd.ProcessState.ExitCode(); code != 1 {
			t.Fatalf("backupd %s: exit %d (%v), want 1\n%s", args[0], code, err, out)
		}
		for _, want := range []string{d.DataDir, fmt.Sprintf("PID %d", d.PID())} {
			if !strings.Contains(string(out), want) {
				t.Errorf("backupd %s said %q; it does not name %q", args[0], out, want)
			}
		}
	}
	if got := d.WaitBackup(b.ID); got.Status != "succeeded" {
		t.Fatalf("the first daemon's backup ended %s (%s), want succeeded", got.Status, got.Error)
	}
}
