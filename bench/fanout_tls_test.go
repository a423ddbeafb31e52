package bench_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/backupd/backupd/internal/domain"
	"github.com/backupd/backupd/internal/hub"
	"github.com/backupd/backupd/internal/hub/hubtest"
)

// fanoutTLSClients is the fleet of BenchmarkFanoutTLS, as in
// BenchmarkFanout5000.
const fanoutTLSClients = 5000

// BenchmarkFanoutTLS is the fan-out over plain TCP and over TLS, side by
// side. The daemon has no TLS listener of its own, so the real hub is run
// in its own process (this test binary, as a helper: TestHubServer),
// serving plain TCP or crypto/tls with a self-signed ECDSA certificate for
// 127.0.0.1 made here; over TLS every connection is a *tls.Conn, which the
// hub's workers cannot write to without waiting, so each client's pump
// writes its frames. 5,000 protocol 2 clients in this process; the helper
// publishes 20 events a second (the shape of report.received events) for
// 15 s after a 2 s warm-up, each timed from its "time", set when published,
// to its arrival. Every client must get every event. The figures to
// compare are the two p99s and the hub's CPU per delivery; the plain run
// is the baseline. What is not in it: the catalog and its watcher, which
// BenchmarkFanout5000 includes.
func BenchmarkFanoutTLS(b *testing.B) {
	dir := b.TempDir()
	pool := writeCert(b, dir)
	var plain *fanoutResult
	for _, mode := range []string{"plain", "tls"} {
		b.Run(mode, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				r := runFanoutHub(b, mode, dir, pool)
				b.ReportMetric(ms(r.p50), "p50-ms")
				b.ReportMetric(ms(r.p99), "p99-ms")
				b.ReportMetric(r.cpuPerDelivery, "hub-cpu-us/delivery")
				b.ReportMetric(float64(r.short), "clients-missing-events")
				if mode == "plain" {
					plain = &r
					continue
				}
				if plain != nil {
					b.ReportMetric(float64(r.p99)/float64(plain.p99), "p99-tls/plain")
					b.Logf("TLS against plain: p50 %.1f / %.1f ms, p99 %.1f / %.1f ms (%.2fx), hub CPU %.1f / %.1f µs per delivery (%.2fx)",
						ms(r.p50), ms(plain.p50), ms(r.p99), ms(plain.p99), float64(r.p99)/float64(plain.p99),
						r.cpuPerDelivery, plain.cpuPerDelivery, r.cpuPerDelivery/plain.cpuPerDelivery)
				}
			}
		})
	}
}

type fanoutResult struct {
	p50, p99, max  time.Duration
	cpuPerDelivery float64
	short          int
}

func runFanoutHub(b *testing.B, mode, dir string, pool *x509.CertPool) fanoutResult {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	srv := startHubServer(b, mode, dir)
	defer srv.stop()
	opt := hubtest.Options{Protocol: 2, EventTime: true, Parallel: 32}
	url := "ws://" + srv.addr + "/ws"
	if mode == "tls" {
		opt.TLSConfig = &tls.Config{RootCAs: pool}
		url = "wss://" + srv.addr + "/ws"
	}
	t0 := time.Now()
	fleet, err := hubtest.Dial(ctx, url, fanoutTLSClients, opt)
	if err != nil {
		b.Fatal(err)
	}
	defer fleet.Close()
	b.Logf("%s: %d clients connected in %s", mode, fanoutTLSClients, time.Since(t0).Round(time.Millisecond))

	warm := srv.publish(b, fanoutWarmup)
	if err := fleet.WaitReceived(ctx, int64(fanoutTLSClients)*warm); err != nil {
		b.Fatal(err)
	}
	fleet.Reset()
	before := fleet.Received()
	cpu0, load0 := procCPU(b, srv.pid()), loadavg()
	n := srv.publish(b, fanoutRun)
	waitCtx, waitCancel := context.WithTimeout(ctx, time.Minute)
	err = fleet.WaitReceived(waitCtx, int64(fanoutTLSClients)*(warm+n))
	waitCancel()
	cpu := procCPU(b, srv.pid()) - cpu0
	deliveries := fleet.Received() - before
	lat := fleet.Latencies()
	r := fanoutResult{p50: hubtest.Percentile(lat, 50), p99: hubtest.Percentile(lat, 99), max: hubtest.Percentile(lat, 100),
		cpuPerDelivery: float64(cpu.Microseconds()) / float64(max(deliveries, 1))}
	for _, c := range fleet.Counts() {
		if c != warm+n {
			r.short++
		}
	}
	b.Logf("%s: %d clients, %d events in %s: %d deliveries, p50 %.1f ms, p99 %.1f ms, max %.1f ms; hub CPU %.1f µs/delivery; "+
		"%d clients closed, %d missing events (first error: %v); load average %s -> %s",
		mode, fanoutTLSClients, n, fanoutRun, deliveries, ms(r.p50), ms(r.p99), ms(r.max), r.cpuPerDelivery,
		fleet.Closed(), r.short, fleet.Err(), load0, loadavg())
	if err != nil {
		b.Fatalf("not every client got every event: %v", err)
	}
	return r
}

// writeCert makes a self-signed ECDSA certificate for 127.0.0.1, writes it
// and its key to dir, and returns a pool that trusts it.
func writeCert(b *testing.B, dir string) *x509.CertPool {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "backupd bench"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		b.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		b.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
	if err := os.WriteFile(filepath.Join(dir, "cert.pem"), certPEM, 0o600); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "key.pem"), keyPEM, 0o600); err != nil {
		b.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	return pool
}

// hubServer is the helper process: the hub behind a listener, publishing
// when told to on its stdin.
type hubServer struct {
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  *bufio.Scanner
	addr string
}

func startHubServer(b *testing.B, mode, dir string) *hubServer {
	cmd := exec.Command(os.Args[0], "-test.run=^TestHubServer$", "-test.count=1")
	cmd.Env = append(os.Environ(), "BACKUPD_BENCH_HUB="+mode, "BACKUPD_BENCH_HUB_DIR="+dir)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	outp, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	s := &hubServer{cmd: cmd, in: in, out: bufio.NewScanner(outp)}
	line := s.line(b)
	addr, ok := strings.CutPrefix(line, "listening ")
	if !ok {
		s.stop()
		b.Fatalf("hub server said %q", line)
	}
	s.addr = addr
	return s
}

func (s *hubServer) pid() int { return s.cmd.Process.Pid }

func (s *hubServer) line(b *testing.B) string {
	if !s.out.Scan() {
		b.Fatalf("hub server ended: %v", s.out.Err())
	}
	return s.out.Text()
}

// publish has the server publish fanoutRate events a second for d and
// returns how many it published.
func (s *hubServer) publish(b *testing.B, d time.Duration) int64 {
	n := int64(d.Seconds() * fanoutRate)
	if _, err := fmt.Fprintf(s.in, "publish %d\n", n); err != nil {
		b.Fatal(err)
	}
	if line := s.line(b); line != "published" {
		b.Fatalf("hub server said %q", line)
	}
	return n
}

func (s *hubServer) stop() {
	s.in.Close()
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
}

// TestHubServer is not a test: it is the helper process of
// BenchmarkFanoutTLS, and does nothing unless that started it.
func TestHubServer(t *testing.T) {
	mode := os.Getenv("BACKUPD_BENCH_HUB")
	if mode == "" {
		t.Skip("helper process of BenchmarkFanoutTLS")
	}
	if err := serveHub(mode, os.Getenv("BACKUPD_BENCH_HUB_DIR"), os.Stdin, os.Stdout); err != nil {
		t.Fatal(err)
	}
}

func serveHub(mode, dir string, in io.Reader, out io.Writer) error {
	store := &sliceStore{}
	h := hub.New(store, hub.Options{})
	defer h.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	if mode == "tls" {
		cert, err := tls.LoadX509KeyPair(filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"))
		if err != nil {
			return err
		}
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}})
	}
	mux := http.NewServeMux()
	mux.Handle("/ws", h)
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	defer srv.Close()
	fmt.Fprintf(out, "listening %s\n", ln.Addr())
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		var n int
		if _, err := fmt.Sscanf(sc.Text(), "publish %d", &n); err != nil {
			return fmt.Errorf("command %q: %w", sc.Text(), err)
		}
		tick := time.NewTicker(time.Second / fanoutRate)
		for range n {
			<-tick.C
			h.Publish(store.add())
		}
		tick.Stop()
		fmt.Fprintln(out, "published")
	}
	return sc.Err()
}

// sliceStore is the helper's event store: events in memory, shaped as
// report.received events are (the backup as JSON, about 450 bytes).
type sliceStore struct {
	mu     sync.Mutex
	events []domain.Event
}

func (s *sliceStore) add() domain.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := int64(len(s.events) + 1)
	at := time.Now().UTC()
	src := fmt.Sprintf("db%d", id%50)
	data, _ := json.Marshal(domain.Backup{ID: id, Source: src, Origin: domain.OriginWebhook, Status: domain.StatusSucceeded,
		CreatedAt: at, StartedAt: &at, FinishedAt: &at, SizeBytes: 1<<20 + id,
		SHA256:  "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		Archive: fmt.Sprintf("s3://backups/%s/%d.tar.zst", src, id), WebhookID: fmt.Sprintf("msg_%08d", id)})
	ev := domain.Event{ID: id, Type: domain.EventReportReceived, BackupID: id, Source: src, Time: at, Data: data}
	s.events = append(s.events, ev)
	return ev
}

func (s *sliceStore) ListEvents(_ context.Context, since int64, limit int) ([]domain.Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	start := min(max(since, 0), int64(len(s.events)))
	end := min(start+int64(limit), int64(len(s.events)))
	return append([]domain.Event(nil), s.events[start:end]...), nil
}
