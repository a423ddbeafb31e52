package bench_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/backupd/backupd/internal/hub/hubtest"
	"github.com/backupd/backupd/internal/testdaemon"
	"github.com/backupd/backupd/internal/webhook"
)

// Fan-out load: events per second through the real path, for how long.
const (
	fanoutRate   = 20
	fanoutWarmup = 2 * time.Second
	fanoutRun    = 15 * time.Second
)

// BenchmarkFanout5000 runs the daemon as its own process and 5,000
// protocol 2 clients in this one, each live from the current head. Signed
// webhook reports arrive at 20/s for 15 s; each commits a record and a
// report.received event, which the catalog watcher hands to the hub. Every
// delivery is timed from the event's time (taken inside the committing
// transaction; same machine, same clock) to its arrival at the client, and
// every client must get every event without being closed. Target: p99 <=
// 100 ms, no client dropped.
func BenchmarkFanout5000(b *testing.B) { benchFanout(b, 5000) }

// BenchmarkFanout10000 is the same with 10,000 clients (no target).
func BenchmarkFanout10000(b *testing.B) { benchFanout(b, 10000) }

// BenchmarkFanout100 is the same with 100 clients: the latency of the
// commit and the watcher themselves, which the others are read against.
func BenchmarkFanout100(b *testing.B) { benchFanout(b, 100) }

func benchFanout(b *testing.B, clients int) {
	d := testdaemon.Start(b, testdaemon.Options{Config: fmt.Sprintf("webhooks:\n  secrets: [%q]\n", benchSecret)})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	idleRSS, err := d.PeakRSS()
	if err != nil {
		b.Fatal(err)
	}
	head := wsHead(b, d.URL)
	t0 := time.Now()
	fleet, err := hubtest.Dial(ctx, d.URL+"/api/v1/ws", clients, hubtest.Options{Protocol: 2, Since: &head, EventTime: true, Parallel: 32})
	if err != nil {
		b.Fatal(err)
	}
	defer fleet.Close()
	b.Logf("%d clients connected in %s", clients, time.Since(t0).Round(time.Millisecond))
	connRSS, _ := d.PeakRSS()

	post := newReporter(b, d.URL)
	for i := 0; i < b.N; i++ {
		// Warm-up at the same rate; its deliveries are counted but not timed.
		sent := post.run(ctx, fanoutWarmup)
		if err := fleet.WaitReceived(ctx, int64(clients)*sent); err != nil {
			b.Fatal(err)
		}
		fleet.Reset()
		before := fleet.Received()
		cpu0, self0 := procCPU(b, d.PID()), cpuTime()
		load0 := loadavg()
		start := time.Now()
		n := post.run(ctx, fanoutRun)
		sent += n
		waitCtx, waitCancel := context.WithTimeout(ctx, time.Minute)
		err := fleet.WaitReceived(waitCtx, int64(clients)*sent)
		waitCancel()
		elapsed := time.Since(start)
		cpu, self := procCPU(b, d.PID())-cpu0, cpuTime()-self0
		deliveries := fleet.Received() - before
		lat := fleet.Latencies()
		short := 0
		for _, c := range fleet.Counts() {
			if c != sent {
				short++
			}
		}
		rss, _ := d.PeakRSS()
		p50, p99, pmax := hubtest.Percentile(lat, 50), hubtest.Percentile(lat, 99), hubtest.Percentile(lat, 100)
		perConn := float64(connRSS-idleRSS) / float64(clients) / 1024
		b.ReportMetric(ms(p50), "p50-ms")
		b.ReportMetric(ms(p99), "p99-ms")
		b.ReportMetric(float64(deliveries)/elapsed.Seconds(), "deliveries/s")
		b.ReportMetric(float64(fleet.Closed()), "closed")
		b.ReportMetric(float64(short), "clients-missing-events")
		b.ReportMetric(perConn, "RSS-KiB/conn")
		b.ReportMetric(float64(cpu.Microseconds())/float64(deliveries), "daemon-cpu-us/delivery")
		b.Logf("%d clients, %d events in %s (%.1f/s): %d deliveries (%.0f/s), p50 %.1f ms, p99 %.1f ms, max %.1f ms; "+
			"%d clients closed, %d missing events (first error: %v)",
			clients, n, fanoutRun, float64(n)/fanoutRun.Seconds(), deliveries, float64(deliveries)/elapsed.Seconds(),
			ms(p50), ms(p99), ms(pmax), fleet.Closed(), short, fleet.Err())
		b.Logf("daemon: RSS idle %.1f MiB, with clients %.1f MiB (%.1f KiB/conn), peak %.1f MiB; CPU %.1f µs/delivery (clients: %.1f); load average %s -> %s",
			mib(idleRSS), mib(connRSS), perConn, mib(rss), float64(cpu.Microseconds())/float64(deliveries),
			float64(self.Microseconds())/float64(deliveries), load0, loadavg())
		if err != nil {
			b.Fatalf("not every client got every event: %v", err)
		}
	}
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

// wsHead says hello once without since and returns the head in welcome.
func wsHead(b *testing.B, base string) int64 {
	b.Helper()
	conn, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(base, "http")+"/api/v1/ws", nil)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	if err := conn.WriteMessage(websocket.TextMessage, []byte(`{"eventType":"hello","protocol":2}`)); err != nil {
		b.Fatal(err)
	}
	for {
		var m struct {
			EventType string `json:"eventType"`
			Head      int64  `json:"head"`
		}
		if err := conn.ReadJSON(&m); err != nil {
			b.Fatal(err)
		}
		if m.EventType == "welcome" {
			return m.Head
		}
	}
}

// reporter sends signed backup reports to the daemon's webhook at a fixed
// rate, each in its own goroutine so that a slow answer never delays the
// next report.
type reporter struct {
	b      *testing.B
	url    string
	key    []byte
	client *http.Client
	seq    atomic.Int64
}

func newReporter(b *testing.B, base string) *reporter {
	key, err := webhook.ParseSecret(benchSecret)
	if err != nil {
		b.Fatal(err)
	}
	return &reporter{b: b, url: base + "/api/v1/webhooks/backup", key: key, client: &http.Client{Timeout: 30 * time.Second}}
}

// run sends fanoutRate reports a second for d and returns how many were
// stored, once all of them have been answered.
func (r *reporter) run(ctx context.Context, d time.Duration) int64 {
	tick := time.NewTicker(time.Second / fanoutRate)
	defer tick.Stop()
	var (
		wg   sync.WaitGroup
		ok   atomic.Int64
		fail atomic.Value
	)
	for range int(d.Seconds() * fanoutRate) {
		<-tick.C
		i := r.seq.Add(1)
		body := fmt.Appendf(nil, `{"source":"db%d","status":"succeeded","started_at":"2026-11-23T16:00:00Z",`+
			`"finished_at":"2026-11-23T16:05:00Z","size_bytes":%d,"location":"s3://backups/db%d/%d.tar.zst",`+
			`"sha256":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}`, i%50, 1<<20+i, i%50, i)
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, r.url, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		webhook.SignHeaders(req.Header, r.key, fmt.Sprintf("fanout_%d_%d", os.Getpid(), i), time.Now(), body)
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := r.client.Do(req)
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
					err = fmt.Errorf("report %d: status %d", i, resp.StatusCode)
				}
			}
			if err != nil {
				fail.Store(err)
				return
			}
			ok.Add(1)
		}()
	}
	wg.Wait()
	if err, _ := fail.Load().(error); err != nil {
		r.b.Fatal(err)
	}
	return ok.Load()
}

// procCPU is a process's user+system CPU time so far, from /proc.
func procCPU(b *testing.B, pid int) time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// Fields after the command name, which is in parentheses.
	f := strings.Fields(string(raw[bytes.LastIndexByte(raw, ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond // USER_HZ is 100 on Linux
}

// loadavg is the 1-, 5- and 15-minute load average.
func loadavg() string {
	raw, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(raw))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
