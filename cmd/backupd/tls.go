package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// certReloader hands the certificate in tls.cert_file and tls.key_file to
// every TLS handshake, and reads the pair again when either file changes on
// disk (renewal by certbot, a mounted secret swapping its symlink) or on
// SIGHUP (Reload). A pair that does not load leaves the previous one in
// service.
//
// Changes are noticed by a stat of both files at each handshake rather
// than by a timer: two stats cost a few microseconds, against the
// signature and key exchange of the handshake itself, and in exchange a
// renewed certificate serves from the very next connection, with no
// goroutine to stop and no interval to document. A pair that fails to load
// is tried again only once its files change again, so a half-renewed pair
// costs one error in the log, not one per handshake.
type certReloader struct {
	certFile, keyFile string
	log               *slog.Logger

	mu   sync.Mutex
	cert *tls.Certificate
	seen [2]os.FileInfo // both files as they were at the last load or attempt
}

// newCertReloader loads the pair now: a daemon configured for TLS must not
// start without a certificate.
func newCertReloader(certFile, keyFile string, log *slog.Logger) (*certReloader, error) {
	r := &certReloader{certFile: certFile, keyFile: keyFile, log: log}
	if err := r.Reload(); err != nil {
		return nil, err
	}
	return r, nil
}

// Reload reads the pair whether or not the files look changed.
func (r *certReloader) Reload() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.load(r.stat())
}

// GetCertificate is tls.Config.GetCertificate.
func (r *certReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now := r.stat(); changed(r.seen, now) {
		if err := r.load(now); err != nil {
			r.log.Error("the TLS certificate files changed but do not load; still serving the previous certificate", "err", err)
		} else {
			r.log.Info("TLS certificate files changed: reloaded the certificate", certAttrs(r.cert)...)
		}
	}
	return r.cert, nil
}

// serverConfig is the listener's TLS configuration.
func (r *certReloader) serverConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: r.GetCertificate}
}

// attrs describes the certificate in service, for the log.
func (r *certReloader) attrs() []any {
	r.mu.Lock()
	defer r.mu.Unlock()
	return certAttrs(r.cert)
}

// load reads the files; the caller holds mu. The files are stat'd before
// they are read, so a change that lands in between is seen again next time.
func (r *certReloader) load(seen [2]os.FileInfo) error {
	r.seen = seen
	cert, err := loadPair(r.certFile, r.keyFile)
	if err != nil {
		return err
	}
	if time.Now().After(cert.Leaf.NotAfter) {
		r.log.Warn("the TLS certificate has expired: clients will refuse it", certAttrs(cert)...)
	}
	r.cert = cert
	return nil
}

func (r *certReloader) stat() [2]os.FileInfo {
	var out [2]os.FileInfo
	for i, p := range []string{r.certFile, r.keyFile} {
		out[i], _ = os.Stat(p) // a file that is missing now fails the load, which says why
	}
	return out
}

// changed reports whether either file is another file (renamed over,
// symlink swapped), or was written since (mtime, size), or appeared or
// disappeared.
func changed(old, now [2]os.FileInfo) bool {
	for i := range old {
		a, b := old[i], now[i]
		if a == nil || b == nil {
			if a != b {
				return true
			}
			continue
		}
		if !os.SameFile(a, b) || !a.ModTime().Equal(b.ModTime()) || a.Size() != b.Size() {
			return true
		}
	}
	return false
}

// loadPair reads a PEM certificate chain and its key, with errors that
// name the config key to look at.
func loadPair(certFile, keyFile string) (*tls.Certificate, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("tls.cert_file: %w", err)
	}
	block, rest := pem.Decode(certPEM)
	for block != nil && block.Type != "CERTIFICATE" {
		block, rest = pem.Decode(rest)
	}
	if block == nil {
		return nil, fmt.Errorf("tls.cert_file: %s holds no PEM certificate (-----BEGIN CERTIFICATE-----)", certFile)
	}
	if _, err := x509.ParseCertificate(block.Bytes); err != nil {
		return nil, fmt.Errorf("tls.cert_file: %s: %w", certFile, err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("tls.key_file: %w", err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("tls.key_file: %s does not hold the key of the certificate in tls.cert_file %s: %w", keyFile, certFile, err)
	}
	if cert.Leaf == nil { // GODEBUG=x509keypairleaf=0
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, fmt.Errorf("tls.cert_file: %s: %w", certFile, err)
		}
	}
	return &cert, nil
}

func certAttrs(c *tls.Certificate) []any {
	return []any{"subject", c.Leaf.Subject.String(), "issuer", c.Leaf.Issuer.String(),
		"serial", c.Leaf.SerialNumber.String(), "not_after", c.Leaf.NotAfter.UTC().Format(time.RFC3339)}
}
