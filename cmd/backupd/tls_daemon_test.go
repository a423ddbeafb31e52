package main_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/backupd/backupd/internal/testcert"
	"github.com/backupd/backupd/internal/testdaemon"
	"github.com/backupd/backupd/internal/testenv"
)

// startTLS runs a daemon serving the certificate that ca signs, written
// to certFile and keyFile in a fresh directory.
func startTLS(t *testing.T, ca *testcert.CA, pool *x509.CertPool) (d *testdaemon.Daemon, certFile, keyFile string) {
	t.Helper()
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	ca.WriteLeaf(t, certFile, keyFile)
	d = testdaemon.Start(t, testdaemon.Options{
		Config:  "tls:\n  cert_file: " + certFile + "\n  key_file: " + keyFile + "\n",
		RootCAs: pool,
	})
	return d, certFile, keyFile
}

// servedCert makes a new TLS connection to the daemon (no session reused)
// and returns the certificate it presents.
func servedCert(t *testing.T, d *testdaemon.Daemon, pool *x509.CertPool) *x509.Certificate {
	t.Helper()
	conn, err := tls.Dial("tcp", d.Addr, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatalf("TLS handshake: %v", err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0]
}

// waitLog waits until the daemon's log holds want.
func waitLog(t *testing.T, d *testdaemon.Daemon, want string) {
	t.Helper()
	waitLogCount(t, d, want, 1)
}

// waitLogCount waits until the daemon's log says want n times or more.
func waitLogCount(t *testing.T, d *testdaemon.Daemon, want string, n int) {
	t.Helper()
	deadline := time.Now().Add(testenv.WaitTimeout)
	for time.Now().Before(deadline) {
		if b, _ := os.ReadFile(d.LogPath); strings.Count(string(b), want) >= n {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("the daemon's log never said %q %d times", want, n)
}

// With tls.cert_file and tls.key_file the daemon serves HTTPS and WSS on
// its one address: health, the REST API, and the WebSocket's greeting
// and events.
func TestServesHTTPSAndWSS(t *testing.T) {
	ca := testcert.NewCA(t, "test CA")
	d, _, _ := startTLS(t, ca, ca.Pool())
	if !strings.HasPrefix(d.URL, "https://") {
		t.Fatalf("URL %s", d.URL)
	}
	resp, err := d.HTTPClient().Get(d.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.TLS == nil || resp.TLS.Version < tls.VersionTLS12 {
		t.Fatalf("healthz over https: %d, %+v", resp.StatusCode, resp.TLS)
	}
	if srcs, err := d.Client().Sources(context.Background()); err != nil || len(srcs) != 1 {
		t.Fatalf("sources over https: %v, %v", srcs, err)
	}

	dialer := websocket.Dialer{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}, HandshakeTimeout: 10 * time.Second}
	c, _, err := dialer.Dial(strings.Replace(d.URL, "https", "wss", 1)+"/api/v1/ws", nil)
	if err != nil {
		t.Fatalf("dial wss: %v", err)
	}
	defer c.Close()
	if m := read(t, c); m["eventType"] != "socket_connected" {
		t.Fatalf("greeting over wss: %v", m)
	}
	if _, err := d.Client().CreateBackup(context.Background(), "catalog"); err != nil {
		t.Fatal(err)
	}
	if m := readUntil(t, c, "backup"); m["type"] != "backup.queued" {
		t.Fatalf("event over wss: %v", m)
	}

	// Below TLS 1.2, no handshake.
	if conn, err := tls.Dial("tcp", d.Addr, &tls.Config{RootCAs: ca.Pool(), ServerName: "127.0.0.1", MaxVersion: tls.VersionTLS11}); err == nil {
		conn.Close()
		t.Error("a TLS 1.1 handshake succeeded")
	}
	// which net/http logs through the daemon's logger.
	waitLog(t, d, "component=http")
	b, err := os.ReadFile(d.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`level=WARN msg="http: TLS handshake error`, "msg=\"backupd serving\"", "tls=true"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("log lacks %s:\n%s", want, b)
		}
	}
	if strings.Contains(string(b), "plain HTTP") {
		t.Errorf("a plain-HTTP warning on loopback with TLS:\n%s", b)
	}
}

// A certificate renewed on disk (another CA, even) is served to the next
// connection without a restart; SIGHUP reloads too, logs it, and the
// daemon keeps serving.
func TestCertificateRenewedWithoutRestart(t *testing.T) {
	first, second := testcert.NewCA(t, "first CA"), testcert.NewCA(t, "second CA")
	both := first.Pool()
	both.AddCert(second.Cert)
	d, certFile, keyFile := startTLS(t, first, both)
	pid := d.PID()
	if got := servedCert(t, d, both); got.Issuer.CommonName != "first CA" {
		t.Fatalf("issuer %q at start", got.Issuer.CommonName)
	}

	renewed := second.WriteLeaf(t, certFile, keyFile)
	got := servedCert(t, d, both)
	if got.SerialNumber.Cmp(renewed.SerialNumber) != 0 || got.Issuer.CommonName != "second CA" {
		t.Fatalf("after renewal: serial %s from %q, want %s from second CA", got.SerialNumber, got.Issuer.CommonName, renewed.SerialNumber)
	}
	waitLog(t, d, "TLS certificate files changed: reloaded the certificate")

	again := second.WriteLeaf(t, certFile, keyFile)
	if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitLog(t, d, "SIGHUP: reloaded the TLS certificate")
	if got := servedCert(t, d, both); got.SerialNumber.Cmp(again.SerialNumber) != 0 {
		t.Fatalf("after SIGHUP: serial %s, want %s", got.SerialNumber, again.SerialNumber)
	}
	if _, err := d.Client().Health(context.Background()); err != nil || d.PID() != pid {
		t.Fatalf("after SIGHUP: %v (pid %d, was %d)", err, d.PID(), pid)
	}
}

// SIGHUP does not end a daemon without TLS either; its log says that a
// config change needs a restart.
func TestSIGHUPKeepsServing(t *testing.T) {
	d := testdaemon.Start(t, testdaemon.Options{})
	for range 2 {
		if err := syscall.Kill(d.PID(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
	}
	waitLog(t, d, "config reloaded")
	if h, err := d.Client().Health(context.Background()); err != nil || h.Status != "ok" {
		t.Fatalf("health after SIGHUP: %+v, %v", h, err)
	}
	if b, err := d.Client().CreateBackup(context.Background(), "catalog"); err != nil || d.WaitBackup(b.ID).Status != "succeeded" {
		t.Fatalf("backup after SIGHUP: %+v, %v", b, err)
	}
}
