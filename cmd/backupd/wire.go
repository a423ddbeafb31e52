package main

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"sort"

	"github.com/backupd/backupd/internal/config"
	"github.com/backupd/backupd/internal/domain"
	"github.com/backupd/backupd/internal/httpapi"
	"github.com/backupd/backupd/internal/runner"
	"github.com/backupd/backupd/internal/source"
)

func newLogger(cfg config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	level.UnmarshalText([]byte(cfg.Level)) // validated by config
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// checkListen refuses to serve beyond loopback without authentication.
func checkListen(cfg config.Config) error {
	if len(cfg.Auth.Tokens) > 0 || loopback(cfg.Listen) {
		return nil
	}
	return fmt.Errorf("refusing to listen on %s without authentication: add a token under auth.tokens in the config, or listen on 127.0.0.1", cfg.Listen)
}

// plainListenWarning says what is wrong with serving plain HTTP beyond
// loopback, where tokens and archives would cross the network readable,
// or is "" when that is not the case or a proxy in front does TLS.
func plainListenWarning(cfg config.Config) string {
	if loopback(cfg.Listen) || cfg.TLS.Enabled() || cfg.TLS.TerminatedByProxy {
		return ""
	}
	return "listen: " + cfg.Listen + " is beyond loopback over plain HTTP: tokens and archives cross the network readable; set tls.cert_file and tls.key_file, or tls.terminated_by_proxy: true if a proxy in front does TLS"
}

func loopback(listen string) bool {
	host, _, _ := net.SplitHostPort(listen)
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// preflight lists, as "sources.NAME: ..." lines sorted by name, what would
// make configured sources fail (source.Preflight).
func preflight(cfg config.Config) []string {
	var out []string
	for name, s := range cfg.Sources {
		for _, w := range source.Preflight(s) {
			out = append(out, "sources."+name+": "+w)
		}
	}
	sort.Strings(out)
	return out
}

// buildSources turns the config's sources, plus the built-in catalog
// source, into runner specs and listing entries, sorted by name.
func buildSources(cfg config.Config) ([]runner.Spec, error) {
	all := map[string]config.Source{}
	for name, s := range cfg.Sources {
		all[name] = s
	}
	if !cfg.NoCatalogSource {
		all[config.CatalogSource] = config.Source{Kind: config.KindSQLite, Path: cfg.CatalogPath()}
	}
	specs := make([]runner.Spec, 0, len(all))
	for name, s := range all {
		src, err := source.New(name, s)
		if err != nil {
			return nil, fmt.Errorf("sources.%s: %w", name, err)
		}
		specs = append(specs, runner.Spec{Name: name, Source: src, Timeout: s.Timeout, Retention: s.Retention()})
	}
	sort.Slice(specs, func(i, j int) bool { return specs[i].Name < specs[j].Name })
	return specs, nil
}

// specNames are the names of specs: the configured sources and the
// built-in catalog source.
func specNames(specs []runner.Spec) []string {
	out := make([]string, len(specs))
	for i, s := range specs {
		out[i] = s.Name
	}
	return out
}

func sourceInfos(cfg config.Config, specs []runner.Spec) []domain.SourceInfo {
	out := make([]domain.SourceInfo, 0, len(specs))
	for _, s := range specs {
		c := cfg.Sources[s.Name]
		out = append(out, domain.SourceInfo{Name: s.Name, Kind: s.Source.Kind(), Schedule: c.Schedule, Retention: s.Retention.String(), Verify: c.Verify})
	}
	return out
}

// apiTokens are the configured tokens as the HTTP API checks them.
func apiTokens(a config.Auth) []httpapi.Token {
	var out []httpapi.Token
	for _, t := range a.NamedTokens() {
		out = append(out, httpapi.Token{Name: t.Name, Value: t.Token, Scopes: t.Scopes})
	}
	return out
}

// allowedHosts are the Host names a tokenless daemon answers besides
// loopback ones: the listen address's host and allowed_hosts.
func allowedHosts(cfg config.Config) []string {
	out := append([]string(nil), cfg.AllowedHosts...)
	if host, _, err := net.SplitHostPort(cfg.Listen); err == nil && host != "" {
		out = append(out, host)
	}
	return out
}
