package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/backupd/backupd/internal/config"
	"github.com/backupd/backupd/internal/testcert"
)

func servedSerial(t *testing.T, r *certReloader) string {
	t.Helper()
	c, err := r.GetCertificate(&tls.ClientHelloInfo{})
	if err != nil {
		t.Fatal(err)
	}
	return c.Leaf.SerialNumber.String()
}

// A certificate replaced on disk is served from the next handshake on; a
// pair that does not load leaves the previous one in service and is
// logged once, not at every handshake.
func TestCertReloaderFollowsFiles(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	first := testcert.NewCA(t, "first CA").WriteLeaf(t, certFile, keyFile)
	var logs bytes.Buffer
	r, err := newCertReloader(certFile, keyFile, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := servedSerial(t, r), first.SerialNumber.String(); got != want {
		t.Fatalf("serial %s, want %s", got, want)
	}

	second := testcert.NewCA(t, "second CA").WriteLeaf(t, certFile, keyFile)
	if got, want := servedSerial(t, r), second.SerialNumber.String(); got != want {
		t.Fatalf("after the files changed: serial %s, want the new %s", got, want)
	}
	if !strings.Contains(logs.String(), "reloaded the certificate") {
		t.Errorf("no log of the reload:\n%s", logs.String())
	}

	if err := os.WriteFile(certFile, []byte("half a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if got, want := servedSerial(t, r), second.SerialNumber.String(); got != want {
			t.Fatalf("after a bad write: serial %s, want the previous %s", got, want)
		}
	}
	if n := strings.Count(logs.String(), "do not load"); n != 1 {
		t.Errorf("%d errors logged for one bad write, want 1:\n%s", n, logs.String())
	}
	if err := r.Reload(); err == nil || !strings.Contains(err.Error(), "tls.cert_file: "+certFile+" holds no PEM certificate") {
		t.Errorf("Reload of a bad pair: %v", err)
	}
	if got, want := servedSerial(t, r), second.SerialNumber.String(); got != want {
		t.Fatalf("after a failed Reload: serial %s, want the previous %s", got, want)
	}
}

// Reload (what SIGHUP calls) reads the files even when a stat sees
// nothing new, e.g. a copy that kept the old mtime and size.
func TestCertReloaderReloadReadsAnyway(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	ca := testcert.NewCA(t, "CA")
	ca.WriteLeaf(t, certFile, keyFile)
	var logs bytes.Buffer
	d := &daemon{log: slog.New(slog.NewTextHandler(&logs, nil))}
	r, err := newCertReloader(certFile, keyFile, d.log)
	if err != nil {
		t.Fatal(err)
	}
	d.certs = r
	renewed := ca.WriteLeaf(t, certFile, keyFile)
	r.seen = r.stat() // as if the change had been seen and failed to load
	d.reloadOnHangup(context.Background())
	if got, want := servedSerial(t, r), renewed.SerialNumber.String(); got != want {
		t.Fatalf("after SIGHUP: serial %s, want %s", got, want)
	}
	if want := "SIGHUP: reloaded the TLS certificate"; !strings.Contains(logs.String(), want) {
		t.Errorf("log lacks %q:\n%s", want, logs.String())
	}
}

// A certificate that cannot be loaded stops serve and config check before
// anything is touched, with the config key to look at.
func TestBadCertificateFailsStart(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	testcert.NewCA(t, "CA").WriteLeaf(t, certFile, keyFile)
	otherCert, otherKey := filepath.Join(dir, "other.pem"), filepath.Join(dir, "other.key")
	testcert.NewCA(t, "CA").WriteLeaf(t, otherCert, otherKey)
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tlsConfig := func(cert, key string) string {
		return writeConfig(t, "tls:\n  cert_file: "+cert+"\n  key_file: "+key+"\n")
	}
	for _, c := range []struct{ cert, key, want string }{
		{filepath.Join(dir, "absent.pem"), keyFile, "tls.cert_file: open " + filepath.Join(dir, "absent.pem") + ": no such file or directory"},
		{notPEM, keyFile, "tls.cert_file: " + notPEM + " holds no PEM certificate"},
		{certFile, filepath.Join(dir, "absent.key"), "tls.key_file: open " + filepath.Join(dir, "absent.key")},
		{certFile, otherKey, "tls.key_file: " + otherKey + " does not hold the key of the certificate in tls.cert_file " + certFile},
		{certFile, notPEM, "tls.key_file: " + notPEM + " does not hold the key"},
	} {
		cfg := tlsConfig(c.cert, c.key)
		if _, err := runCmd(t, "config", "check", "--config", cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("config check with cert %s, key %s: %v, want %q", c.cert, c.key, err, c.want)
		}
		dataDir := filepath.Join(t.TempDir(), "data")
		if _, err := runCmd(t, "serve", "--config", cfg, "--data-dir", dataDir, "--listen", "127.0.0.1:0"); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("serve with cert %s, key %s: %v, want %q", c.cert, c.key, err, c.want)
		}
		if _, err := os.Stat(dataDir); !os.IsNotExist(err) {
			t.Errorf("serve refused but touched its data dir: %v", err)
		}
	}
	out, err := runCmd(t, "config", "check", "--config", tlsConfig(certFile, keyFile))
	if err != nil || !strings.Contains(out, "config OK") {
		t.Fatalf("a good pair: %q, %v", out, err)
	}
}

func TestPlainListenWarning(t *testing.T) {
	for _, c := range []struct {
		listen string
		tls    config.TLS
		warn   bool
	}{
		{"127.0.0.1:8080", config.TLS{}, false},
		{"[::1]:8080", config.TLS{}, false},
		{"localhost:8080", config.TLS{}, false},
		{"0.0.0.0:8080", config.TLS{}, true},
		{":8080", config.TLS{}, true},
		{"192.0.2.1:8080", config.TLS{}, true},
		{"0.0.0.0:8080", config.TLS{CertFile: "/c", KeyFile: "/k"}, false},
		{"0.0.0.0:8080", config.TLS{TerminatedByProxy: true}, false},
	} {
		w := plainListenWarning(config.Config{Listen: c.listen, TLS: c.tls})
		if got := w != ""; got != c.warn {
			t.Errorf("listen %s, tls %+v: warning %q, want one: %v", c.listen, c.tls, w, c.warn)
		}
	}
	cfg := writeConfig(t, "auth:\n  tokens: [\"0123456789abcdef0123\"]\n")
	out, err := runCmd(t, "config", "check", "--config", cfg, "--listen", "0.0.0.0:8080")
	if err != nil || !strings.Contains(out, "warning: listen: 0.0.0.0:8080 is beyond loopback over plain HTTP") {
		t.Fatalf("config check beyond loopback without TLS: %q, %v", out, err)
	}
}
