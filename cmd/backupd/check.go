package main

import (
	"log/slog"

	"filippo.io/age"

	"github.com/backupd/backupd/internal/config"
	"github.com/backupd/backupd/internal/runner"
	"github.com/backupd/backupd/internal/webhook"
)

// checked is what serve builds from a config before it touches anything:
// the one validation that serve and config check both run, so that a
// config passes one exactly when it passes the other. (Only what needs the
// world is left to serve: the data_dir lock, the bucket, the port.)
type checked struct {
	specs      []runner.Spec
	recipients []age.Recipient
	identities []age.Identity
	certs      *certReloader // nil without TLS
	// Warnings, which serve logs and config check prints: plain HTTP
	// beyond loopback, and what would make a source fail if it ran now.
	listenWarning string
	preflight     []string
}

// warnings are the warnings as config check prints them.
func (c checked) warnings() []string {
	if c.listenWarning == "" {
		return c.preflight
	}
	return append([]string{c.listenWarning}, c.preflight...)
}

// check validates cfg (already through config.Validate) as serve needs
// it: listen and auth, the TLS pair, sources, age keys, webhook secrets
// and proxies, outbound endpoints. log is the certificate reloader's.
func check(cfg config.Config, log *slog.Logger) (checked, error) {
	var c checked
	var err error
	if err = checkListen(cfg); err != nil {
		return c, err
	}
	if cfg.TLS.Enabled() {
		if c.certs, err = newCertReloader(cfg.TLS.CertFile, cfg.TLS.KeyFile, log); err != nil {
			return c, err
		}
	}
	if c.specs, err = buildSources(cfg); err != nil {
		return c, err
	}
	if c.recipients, c.identities, err = encryptionKeys(cfg.Encryption); err != nil {
		return c, err
	}
	// The same constructors serve opens the webhooks with, without a
	// catalog: they fail on exactly what serve would refuse.
	if _, err = webhook.NewReceiver(cfg.Webhooks.Secrets, cfg.Webhooks.TrustedProxies, nil); err != nil {
		return c, err
	}
	if _, err = webhook.NewDispatcher(nil, cfg.Webhooks.Outbound, webhook.Options{Logger: log}); err != nil {
		return c, err
	}
	c.listenWarning, c.preflight = plainListenWarning(cfg), preflight(cfg)
	return c, nil
}
