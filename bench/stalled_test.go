package bench_test

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/backupd/backupd/internal/testdaemon"
)

// The stalled-readers load: clients that say hello and never read, and
// large events stored before and while they are connected.
const (
	stalledClients = 1000
	bigEvents      = 200 // half stored before the clients come, half while they are connected
	bigEventBytes  = 1 << 20
	bigEventRate   = 20 // live events per second
	stalledRSSMax  = 300 << 20
)

// BenchmarkStalledReaders is the slow-reader attack on the real daemon, in
// its own process: 1,000 WebSocket clients say hello and then never read,
// while 200 events of 1 MiB each go through the hub. Half of them ask for
// a replay from since=0 (100 such events are stored before they come),
// half are live. Two normal clients read throughout: one connected before
// the stalled ones and one that connects with since=0 among them; each
// must receive every event, ids gap-free, without being closed. The
// daemon's peak RSS (VmHWM) is read from /proc before the stalled clients
// come, with the first normal client's replay as the baseline, and after.
// VmRSS is also sampled every 50 ms, to tell the phase with the stalled
// clients connecting (and replaying) from the one with the live events.
// Target: peak RSS <= 300 MiB. The stalled clients' sockets have a small
// receive buffer and an Ethernet MSS (smallSocket): what the kernel holds
// for them is not the daemon's RSS, but a thousand loopback-sized buffers
// would take the machine's TCP memory near its pressure limit.
func BenchmarkStalledReaders(b *testing.B) {
	for i := 0; i < b.N; i++ {
		benchStalled(b)
	}
}

func benchStalled(b *testing.B) {
	d := testdaemon.Start(b, testdaemon.Options{})
	d.Stop()
	catalogPath := filepath.Join(d.DataDir, "catalog.db")
	db := openCatalog(b, catalogPath)
	defer db.Close()
	for range bigEvents / 2 {
		insertBigEvent(b, db)
	}
	d.Restart()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	url := "ws" + strings.TrimPrefix(d.URL, "http") + "/api/v1/ws"
	idle, _ := d.PeakRSS()

	first := dialReader(ctx, b, url)
	if err := first.waitFor(ctx, bigEvents/2); err != nil {
		b.Fatal(err)
	}
	baseline, _ := d.PeakRSS()

	sampler := sampleRSS(d.PID())
	t0 := time.Now()
	cpu0 := procCPU(b, d.PID())
	zero := int64(0)
	stalled := dialStalled(ctx, b, url, stalledClients/2, &zero)
	second := dialReader(ctx, b, url)
	stalled = append(stalled, dialStalled(ctx, b, url, stalledClients/2, nil)...)
	defer func() {
		for _, c := range stalled {
			c.Close()
		}
	}()
	connected := time.Since(t0)
	connectRSS := sampler.phase()

	tick := time.NewTicker(time.Second / bigEventRate)
	for range bigEvents / 2 {
		<-tick.C
		insertBigEvent(b, db)
	}
	tick.Stop()
	for _, r := range []*reader{first, second} {
		if err := r.waitFor(ctx, bigEvents); err != nil {
			b.Fatal(err)
		}
	}
	elapsed := time.Since(t0)
	liveRSS := sampler.phase()
	sampler.stop()
	cpu := procCPU(b, d.PID()) - cpu0
	peak, _ := d.PeakRSS()
	slow, open := wsMetrics(b, d.URL)
	for i, r := range []*reader{first, second} {
		r.mu.Lock()
		err := r.err
		r.mu.Unlock()
		if err != nil {
			b.Errorf("normal client %d: %v", i+1, err)
		}
	}

	b.ReportMetric(mib(peak), "peak-RSS-MiB")
	b.ReportMetric(mib(baseline), "baseline-RSS-MiB")
	b.ReportMetric(float64(peak)/float64(baseline), "peak/baseline")
	b.ReportMetric(float64(first.count()+second.count()), "normal-events")
	b.ReportMetric(float64(slow), "slow-closes")
	b.Logf("daemon RSS: idle %.1f MiB, peak with one normal client replaying %d MiB %.1f MiB (baseline), "+
		"peak with %d stalled clients as well %.1f MiB (%.2fx the baseline; target <= %d MiB)",
		mib(idle), bigEvents/2, mib(baseline), stalledClients, mib(peak), float64(peak)/float64(baseline), stalledRSSMax>>20)
	b.Logf("daemon RSS sampled every 50 ms: at most %.1f MiB while the stalled clients connected and replayed, %.1f MiB during the %d live events",
		mib(connectRSS), mib(liveRSS), bigEvents/2)
	b.Logf("normal clients got %d and %d of %d events, ids gap-free; stalled clients connected in %s; "+
		"%d closed as slow consumers (4002), %d WebSocket clients still open at the end; %s in all, daemon CPU %.1f s",
		first.count(), second.count(), bigEvents, connected.Round(time.Millisecond), slow, open,
		elapsed.Round(time.Millisecond), cpu.Seconds())
	if peak > stalledRSSMax {
		b.Errorf("peak RSS %.1f MiB is over the target of %d MiB", mib(peak), stalledRSSMax>>20)
	}
}

func openCatalog(b *testing.B, path string) *sql.DB {
	b.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?_journal_mode=WAL&_busy_timeout=10000")
	if err != nil {
		b.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	return db
}

// insertBigEvent commits one report.received event whose data is about
// bigEventBytes of JSON, as another process writing the catalog would; the
// daemon's watcher notices it by polling data_version.
func insertBigEvent(b *testing.B, db *sql.DB) {
	b.Helper()
	data := `{"source":"big","note":"` + strings.Repeat("abcdefghijklmnop", bigEventBytes/16) + `"}`
	_, err := db.Exec(`INSERT INTO events (type, source, time, data) VALUES (?, ?, ?, ?)`,
		"report.received", "big", time.Now().UTC().Format("2006-01-02T15:04:05.000000000Z"), data)
	if err != nil {
		b.Fatal(err)
	}
}

// dialStalled connects n clients that say hello (since, or live when nil)
// and never read again. Their receive buffers are small, so that the
// kernel holds little for them.
func dialStalled(ctx context.Context, b *testing.B, url string, n int, since *int64) []*websocket.Conn {
	b.Helper()
	dialer := *websocket.DefaultDialer
	dialer.NetDialContext = (&net.Dialer{Control: smallSocket}).DialContext
	hello := `{"eventType":"hello","protocol":2}`
	if since != nil {
		hello = fmt.Sprintf(`{"eventType":"hello","protocol":2,"since":%d}`, *since)
	}
	conns := make([]*websocket.Conn, n)
	errs := make(chan error, n)
	sem := make(chan struct{}, 32)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			conn, _, err := dialer.DialContext(ctx, url, nil)
			if err == nil {
				err = conn.WriteMessage(websocket.TextMessage, []byte(hello))
			}
			if err != nil {
				errs <- err
				return
			}
			conns[i] = conn
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatalf("stalled client: %v", err)
	}
	return conns
}

// smallSocket gives a stalled client's socket, before it connects, a small
// receive buffer and the MSS of an Ethernet path instead of loopback's
// 64 KiB. The daemon's end sizes its send buffer from the MSS (about 1.4 MB
// at 64 KiB, 10 segments twice over), and a thousand such buffers, full of
// data nobody reads, would press on the whole machine's TCP memory.
func smallSocket(_, _ string, rc syscall.RawConn) error {
	var serr error
	err := rc.Control(func(fd uintptr) {
		serr = errors.Join(
			syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 16<<10),
			syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_MAXSEG, 1460))
	})
	return errors.Join(err, serr)
}

// reader is a normal client: hello with since=0, then it reads everything
// and checks that the event ids are 1, 2, 3, ... without a gap.
type reader struct {
	mu     sync.Mutex
	n      int
	err    error
	notify chan struct{}
}

func dialReader(ctx context.Context, b *testing.B, url string) *reader {
	b.Helper()
	conn, _, err := websocket.DefaultDialer.DialContext(ctx, url, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close() })
	if err := conn.WriteMessage(websocket.TextMessage, []byte(`{"eventType":"hello","protocol":2,"since":0}`)); err != nil {
		b.Fatal(err)
	}
	r := &reader{notify: make(chan struct{}, 1)}
	go r.read(conn)
	return r
}

func (r *reader) read(conn *websocket.Conn) {
	var buf bytes.Buffer
	for {
		_, rd, err := conn.NextReader()
		if err == nil {
			buf.Reset()
			_, err = buf.ReadFrom(rd)
		}
		r.mu.Lock()
		if err == nil {
			if rest, ok := bytes.CutPrefix(buf.Bytes(), eventIDPrefix); ok {
				id, perr := strconv.ParseInt(string(rest[:bytes.IndexByte(rest, ',')]), 10, 64)
				if perr != nil || id != int64(r.n)+1 {
					err = fmt.Errorf("event id %d after %d (%v)", id, r.n, perr)
				} else {
					r.n++
				}
			}
		}
		if err != nil && r.err == nil {
			r.err = err
		}
		r.mu.Unlock()
		select {
		case r.notify <- struct{}{}:
		default:
		}
		if err != nil {
			return
		}
	}
}

func (r *reader) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}

// waitFor waits until the reader has n events, or has failed.
func (r *reader) waitFor(ctx context.Context, n int) error {
	for {
		r.mu.Lock()
		got, err := r.n, r.err
		r.mu.Unlock()
		switch {
		case got >= n:
			return nil
		case err != nil:
			return fmt.Errorf("normal client after %d of %d events: %w", got, n, err)
		}
		select {
		case <-r.notify:
		case <-ctx.Done():
			return fmt.Errorf("normal client got %d of %d events: %w", got, n, ctx.Err())
		}
	}
}

// wsMetrics reads the slow-consumer closes and the open clients from the
// daemon's /metrics.
func wsMetrics(b *testing.B, base string) (slow, open int64) {
	b.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 2 {
			continue
		}
		v, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "backupd_ws_slow_disconnects_total":
			slow = int64(v)
		case "backupd_ws_clients":
			open = int64(v)
		}
	}
	return slow, open
}

// rssSampler reads a process's VmRSS every 50 ms and keeps the largest
// value seen in the current phase.
type rssSampler struct {
	mu   sync.Mutex
	max  int64
	done chan struct{}
}

func sampleRSS(pid int) *rssSampler {
	s := &rssSampler{done: make(chan struct{})}
	go func() {
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-s.done:
				return
			case <-t.C:
			}
			if n := vmRSS(pid); n > 0 {
				s.mu.Lock()
				s.max = max(s.max, n)
				s.mu.Unlock()
			}
		}
	}()
	return s
}

// phase returns the largest RSS seen since the last call.
func (s *rssSampler) phase() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.max
	s.max = 0
	return n
}

func (s *rssSampler) stop() { close(s.done) }

func vmRSS(pid int) int64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kb int64
			fmt.Sscanf(strings.TrimSpace(rest), "%d kB", &kb)
			return kb << 10
		}
	}
	return 0
}
