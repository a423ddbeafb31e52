package client

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"

	"github.com/gorilla/websocket"
)

// Option configures a Client.
type Option func(*Client)

// WithRootCAs makes the client trust the server certificates that pool
// verifies, for HTTPS and WSS, instead of the system's roots (CertPool
// builds one that holds both).
func WithRootCAs(pool *x509.CertPool) Option {
	return func(c *Client) { c.tls = &tls.Config{RootCAs: pool} }
}

// CertPool returns the system's root certificates plus the PEM
// certificates in file: a server whose certificate a private CA signed is
// trusted, and so is one with a public certificate. (Where the system has
// no pool, the file's certificates alone.)
func CertPool(file string) (*x509.CertPool, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s holds no PEM certificate (-----BEGIN CERTIFICATE-----)", file)
	}
	return pool, nil
}

// transport is http.DefaultTransport with the client's TLS settings.
func (c *Client) transport() http.RoundTripper {
	if c.tls == nil {
		return http.DefaultTransport
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = c.tls
	return tr
}

// dialer is websocket.DefaultDialer with the client's TLS settings.
func (c *Client) dialer() *websocket.Dialer {
	d := *websocket.DefaultDialer
	d.TLSClientConfig = c.tls
	return &d
}
