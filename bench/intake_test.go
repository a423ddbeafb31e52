package bench_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/backupd/backupd/internal/catalog"
	"github.com/backupd/backupd/internal/domain"
	"github.com/backupd/backupd/internal/httpapi"
	"github.com/backupd/backupd/internal/webhook"
	"github.com/backupd/backupd/migrations"
)

const intakeSenders = 64

var benchSecret = "whsec_" + base64.StdEncoding.EncodeToString([]byte("bench secret for the intake"))

// BenchmarkWebhookIntake sends signed reports from 64 concurrent senders
// over loopback HTTP to the real router, each acknowledged only once its
// record is committed (WAL, synchronous=FULL), and reports records/s and
// p99 latency. The baseline in the same run is the same server storing each
// report in its own transaction, as a handler without group commit would.
func BenchmarkWebhookIntake(b *testing.B) {
	for range b.N {
		naive := runIntake(b, 4000, func(db *catalog.DB) (webhook.Submitter, func()) {
			return oneByOne{db}, func() {}
		})
		grouped := runIntake(b, 60000, func(db *catalog.DB) (webhook.Submitter, func()) {
			in := webhook.NewIntake(db, 0)
			in.Open()
			return in, func() { in.Close() }
		})
		b.ReportMetric(grouped.rate, "records/s")
		b.ReportMetric(ms(grouped.p99), "p99-ms")
		b.ReportMetric(naive.rate, "baseline-records/s")
		b.ReportMetric(ms(naive.p99), "baseline-p99-ms")
		b.ReportMetric(grouped.rate/naive.rate, "x-baseline")
		b.ReportMetric(grouped.cpuPer, "cpu-us/record")
		b.ReportMetric(naive.cpuPer, "baseline-cpu-us/record")
		// CPU per record (this process: senders and server) is what the
		// rate becomes on a busy machine; 2e6/cpu-us is the ceiling on 2
		// idle cores.
		b.Logf("group commit: %.0f records/s, p50 %.2f ms, p99 %.2f ms, %.0f CPU-µs/record (%d records, %d senders)",
			grouped.rate, ms(grouped.p50), ms(grouped.p99), grouped.cpuPer, grouped.n, intakeSenders)
		b.Logf("one tx per request: %.0f records/s, p50 %.2f ms, p99 %.2f ms, %.0f CPU-µs/record (%d records)",
			naive.rate, ms(naive.p50), ms(naive.p99), naive.cpuPer, naive.n)
		b.Logf("group commit / baseline: %.1fx records/s", grouped.rate/naive.rate)
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// oneByOne stores each report in its own transaction: the baseline.
type oneByOne struct{ db *catalog.DB }

func (o oneByOne) Submit(ctx context.Context, r domain.Backup) (catalog.ReportResult, error) {
	res, err := o.db.CreateReports(ctx, []domain.Backup{r})
	if err != nil {
		return catalog.ReportResult{}, err
	}
	return res[0], res[0].Err
}

type intakeResult struct {
	n             int
	rate          float64
	cpuPer        float64 // process CPU time per record, µs
	p50, p99      time.Duration
	backups, evts int
}

// runIntake serves a fresh catalog through the submitter that mk returns
// and sends n signed reports to it.
func runIntake(b *testing.B, n int, mk func(*catalog.DB) (webhook.Submitter, func())) intakeResult {
	b.Helper()
	ctx := context.Background()
	db, err := catalog.Open(ctx, filepath.Join(b.TempDir(), "catalog.db"), migrations.FS)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	sub, stop := mk(db)
	defer stop()
	recv, err := webhook.NewReceiver([]string{benchSecret}, nil, sub)
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(httpapi.New(httpapi.Config{Extra: httpapi.WebhookRoutes(recv, nil, nil, nil)}).Handler())
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")

	// Requests are signed and serialized beforehand: the senders' own work
	// is not what is measured.
	key, _ := webhook.ParseSecret(benchSecret)
	reqs := make([][]byte, n)
	now := time.Now()
	for i := range reqs {
		body := fmt.Appendf(nil, `{"source":"db%d","status":"succeeded","started_at":"2026-11-23T16:00:00Z",`+
			`"finished_at":"2026-11-23T16:05:00Z","size_bytes":%d,"location":"s3://backups/db%d/%d.tar.zst",`+
			`"sha256":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08","engine":{"name":"x","version":"1.2"}}`,
			i%50, 1<<20+i, i%50, i)
		h := http.Header{"Content-Type": {"application/json"}}
		webhook.SignHeaders(h, key, fmt.Sprintf("msg_%08d", i), now, body)
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/v1/webhooks/backup", bytes.NewReader(body))
		req.Header = h
		var buf bytes.Buffer
		if err := req.Write(&buf); err != nil {
			b.Fatal(err)
		}
		reqs[i] = buf.Bytes()
	}

	lat := make([]time.Duration, n)
	next := make(chan int, n)
	for i := range n {
		next <- i
	}
	close(next)
	var wg sync.WaitGroup
	var failMu sync.Mutex
	var fail error
	cpu0 := cpuTime()
	start := time.Now()
	for range intakeSenders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := dialSender(addr)
			if err != nil {
				failMu.Lock()
				fail = err
				failMu.Unlock()
				return
			}
			defer s.Close()
			for i := range next {
				t0 := time.Now()
				status, err := s.Do(reqs[i])
				lat[i] = time.Since(t0)
				if err == nil && status != http.StatusOK {
					err = fmt.Errorf("report %d: status %d", i, status)
				}
				if err != nil {
					failMu.Lock()
					fail = err
					failMu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu := cpuTime() - cpu0
	if fail != nil {
		b.Fatal(fail)
	}
	slices.Sort(lat)
	res := intakeResult{n: n, rate: float64(n) / elapsed.Seconds(), p50: lat[n/2], p99: lat[n*99/100],
		cpuPer: float64(cpu.Microseconds()) / float64(n)}
	res.backups, res.evts = count(b, db)
	if res.backups != n || res.evts != n {
		b.Fatalf("%d backups and %d events stored, want %d of each", res.backups, res.evts, n)
	}
	return res
}

func count(b *testing.B, db *catalog.DB) (backups, events int) {
	b.Helper()
	last, err := db.LastEventID(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	bs, err := db.Backups(context.Background(), domain.BackupFilter{Limit: 1})
	if err != nil || len(bs) == 0 {
		b.Fatalf("list backups: %v", err)
	}
	// Ids are gap-free in a fresh catalog with one writer and no deletes.
	return int(bs[0].ID), int(last)
}

// cpuTime is the process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// sender is one keep-alive HTTP/1.1 connection that writes prepared
// requests and reads the answers, as wrk does: a load generator lean
// enough that the CPU it shares with the server on this machine goes
// mostly to the server, which is what the benchmark measures. (Go's
// net/http client costs about a fifth of each record's CPU here.)
type sender struct {
	conn net.Conn
	r    *bufio.Reader
}

func dialSender(addr string) (*sender, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	return &sender{conn: c, r: bufio.NewReader(c)}, nil
}

func (s *sender) Close() error { return s.conn.Close() }

// Do writes one request and reads its response, returning the status code;
// the body is read by Content-Length and dropped.
func (s *sender) Do(req []byte) (int, error) {
	if _, err := s.conn.Write(req); err != nil {
		return 0, err
	}
	line, err := s.r.ReadSlice('\n')
	if err != nil {
		return 0, fmt.Errorf("read status line: %w", err)
	}
	// "HTTP/1.1 200 OK"
	if len(line) < 12 {
		return 0, fmt.Errorf("bad status line %q", line)
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, fmt.Errorf("bad status line %q", line)
	}
	length := 0
	for {
		line, err := s.r.ReadSlice('\n')
		if err != nil {
			return 0, fmt.Errorf("read header: %w", err)
		}
		if len(line) <= 2 {
			break
		}
		if k, v, ok := bytes.Cut(line, []byte(":")); ok && bytes.EqualFold(k, []byte("Content-Length")) {
			if length, err = strconv.Atoi(string(bytes.TrimSpace(v))); err != nil {
				return 0, fmt.Errorf("bad Content-Length %q", v)
			}
		}
		if bytes.HasPrefix(line, []byte("Transfer-Encoding")) {
			return 0, fmt.Errorf("chunked responses are not read by this sender")
		}
	}
	if _, err := s.r.Discard(length); err != nil {
		return status, fmt.Errorf("read body: %w", err)
	}
	return status, nil
}
