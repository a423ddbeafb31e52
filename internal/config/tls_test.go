package config_test

import (
	"strings"
	"testing"
)

func TestTLSKeys(t *testing.T) {
	cfg, err := parse(t, "tls:\n  cert_file: /etc/backupd/cert.pem\n  key_file: /etc/backupd/key.pem\n")
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.TLS.Enabled() || cfg.TLS.CertFile != "/etc/backupd/cert.pem" || cfg.TLS.KeyFile != "/etc/backupd/key.pem" {
		t.Fatalf("tls = %+v", cfg.TLS)
	}
	cfg, err = parse(t, "tls:\n  terminated_by_proxy: true\n")
	if err != nil || cfg.TLS.Enabled() || !cfg.TLS.TerminatedByProxy {
		t.Fatalf("terminated_by_proxy alone: %+v, %v", cfg.TLS, err)
	}
	for _, c := range []struct{ yaml, want string }{
		{"tls:\n  cert_file: /c.pem\n", "tls: cert_file and key_file must be set together"},
		{"tls:\n  key_file: /k.pem\n", "tls: cert_file and key_file must be set together"},
		{"tls:\n  cert_file: c.pem\n  key_file: /k.pem\n", `tls.cert_file: "c.pem" must be absolute`},
		{"tls:\n  cert_file: /c.pem\n  key_file: k.pem\n", `tls.key_file: "k.pem" must be absolute`},
		{"tls:\n  certfile: /c.pem\n", "certfile"},
	} {
		if _, err := parse(t, c.yaml); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: err = %v, want it to contain %q", c.yaml, err, c.want)
		}
	}
}
