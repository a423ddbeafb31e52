package bench_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/backupd/backupd/internal/domain"
	"github.com/backupd/backupd/internal/testdaemon"
)

const replayEvents = 100_000

// BenchmarkReplay100k stores 100,000 events in the catalog, then has one
// protocol 2 client say hello with since=0 and read every one of them, in
// id order, until the pong that follows the replay. The events are written
// straight into the catalog file while the daemon is stopped, as rows with
// the shape report.received events have (the backup as JSON, ~450 bytes),
// and the daemon is started on it: what is measured is reading them back.
// Target: >= 50,000 events/s.
func BenchmarkReplay100k(b *testing.B) {
	d := testdaemon.Start(b, testdaemon.Options{})
	d.Stop()
	fillEvents(b, filepath.Join(d.DataDir, "catalog.db"), replayEvents)
	d.Restart()
	url := "ws" + strings.TrimPrefix(d.URL, "http") + "/api/v1/ws"

	for i := 0; i < b.N; i++ {
		cpu0 := procCPU(b, d.PID())
		load0 := loadavg()
		n, elapsed := replayAll(b, url)
		cpu := procCPU(b, d.PID()) - cpu0
		rate := float64(n) / elapsed.Seconds()
		b.ReportMetric(rate, "events/s")
		b.ReportMetric(float64(cpu.Microseconds())/float64(n), "daemon-cpu-us/event")
		b.Logf("replayed %d events in %s: %.0f events/s; daemon CPU %.1f µs/event; load average %s -> %s",
			n, elapsed.Round(time.Millisecond), rate, float64(cpu.Microseconds())/float64(n), load0, loadavg())
	}
}

// fillEvents appends n report.received events to the catalog at path in
// one transaction.
func fillEvents(b *testing.B, path string, n int) {
	b.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?_journal_mode=WAL&_busy_timeout=10000")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO events (type, backup_id, source, time, data) VALUES (?, ?, ?, ?, ?)`)
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Date(2026, 11, 23, 16, 0, 0, 0, time.UTC)
	for i := 1; i <= n; i++ {
		src := fmt.Sprintf("db%d", i%50)
		at := t0.Add(time.Duration(i) * time.Second)
		fin := at.Add(5 * time.Minute)
		data, err := json.Marshal(domain.Backup{ID: int64(i), Source: src, Origin: domain.OriginWebhook, Status: domain.StatusSucceeded,
			CreatedAt: at, StartedAt: &at, FinishedAt: &fin, SizeBytes: 1<<20 + int64(i),
			SHA256:  "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
			Archive: fmt.Sprintf("s3://backups/%s/%d.tar.zst", src, i), WebhookID: fmt.Sprintf("msg_%08d", i)})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := stmt.ExecContext(ctx, domain.EventReportReceived, i, src, at.Format("2006-01-02T15:04:05.000000000Z"), string(data)); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
}

var eventIDPrefix = []byte(`{"eventType":"event","id":`)

// replayAll says hello with since=0 and a ping, and reads until the pong;
// every event must come, once, in id order. It returns how many came and
// the time from the hello to the pong.
func replayAll(b *testing.B, url string) (int, time.Duration) {
	b.Helper()
	conn, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	for _, m := range []string{`{"eventType":"hello","protocol":2,"since":0}`, `{"eventType":"ping"}`} {
		if err := conn.WriteMessage(websocket.TextMessage, []byte(m)); err != nil {
			b.Fatal(err)
		}
	}
	var buf bytes.Buffer
	var last int64
	n := 0
	for {
		_, r, err := conn.NextReader()
		if err == nil {
			buf.Reset()
			_, err = buf.ReadFrom(r)
		}
		if err != nil {
			b.Fatalf("after %d events: %v", n, err)
		}
		msg := buf.Bytes()
		if rest, ok := bytes.CutPrefix(msg, eventIDPrefix); ok {
			id, err := strconv.ParseInt(string(rest[:bytes.IndexByte(rest, ',')]), 10, 64)
			if err != nil || id != last+1 {
				b.Fatalf("event %d: id %d after %d (%v)", n, id, last, err)
			}
			last = id
			n++
			continue
		}
		if bytes.Contains(msg, []byte(`"eventType":"pong"`)) {
			elapsed := time.Since(start)
			if n != replayEvents {
				b.Fatalf("replayed %d events, want %d", n, replayEvents)
			}
			return n, elapsed
		}
	}
}
