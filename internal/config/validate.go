package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strings"

	"filippo.io/age"
	"github.com/minio/minio-go/v7/pkg/s3utils"
	"github.com/robfig/cron/v3"

	"github.com/backupd/backupd/internal/domain"
)

// Source kinds.
const (
	KindFiles    = "files"
	KindSQLite   = "sqlite"
	KindCommand  = "command"
	KindPostgres = "postgres"
	KindMySQL    = "mysql"
)

// maxWorkers bounds workers: each runs a dump tool and holds buffers, and
// each source runs at most one backup at a time anyway.
const maxWorkers = 256

// CatalogSource is the name of the built-in source that backs up the catalog.
const CatalogSource = "catalog"

// Validate checks the configuration and returns every problem found, each
// naming the key to fix.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		bad("listen: %q is not host:port", c.Listen)
	}
	if c.DataDir == "" {
		bad("data_dir: must not be empty")
	}
	if e := c.Encryption; len(e.Recipients) > 0 || e.IdentityFile != "" {
		for i, r := range e.Recipients {
			if _, err := age.ParseX25519Recipient(r); err != nil {
				bad("encryption.recipients[%d]: %q is not an age public key (age1..., from age-keygen): %v", i, r, err)
			}
		}
		switch {
		case len(e.Recipients) == 0:
			bad("encryption.identity_file is set but encryption.recipients is empty: nothing would be encrypted")
		case e.IdentityFile != "" && !filepath.IsAbs(e.IdentityFile):
			bad("encryption.identity_file: %q must be absolute", e.IdentityFile)
		}
	}
	if s3 := c.Storage.S3; s3 != nil {
		switch {
		case s3.Endpoint == "":
			bad("storage.s3.endpoint: must be set (host[:port], e.g. s3.amazonaws.com)")
		case strings.Contains(s3.Endpoint, "://") || strings.Contains(s3.Endpoint, "/"):
			bad("storage.s3.endpoint: %q must be host[:port] only; say insecure: true for plain HTTP", s3.Endpoint)
		}
		if s3.Bucket == "" {
			bad("storage.s3.bucket: must be set")
		} else if err := s3utils.CheckValidBucketNameStrict(s3.Bucket); err != nil {
			bad("storage.s3.bucket: %q: %v", s3.Bucket, err)
		}
		if s3.AccessKey == "" || s3.SecretKey == "" {
			bad("storage.s3: access_key and secret_key must be set (use ${VAR} to keep them out of the file)")
		}
		if strings.HasPrefix(s3.Prefix, "/") {
			bad("storage.s3.prefix: %q must not start with /", s3.Prefix)
		}
		if c.ArchiveDir != "" {
			bad("archive_dir and storage.s3 are both set: archives go to one place, remove one")
		}
	}
	switch t := c.TLS; {
	case (t.CertFile == "") != (t.KeyFile == ""):
		bad("tls: cert_file and key_file must be set together (or both left empty for plain HTTP)")
	case t.CertFile != "" && !filepath.IsAbs(t.CertFile):
		bad("tls.cert_file: %q must be absolute", t.CertFile)
	case t.KeyFile != "" && !filepath.IsAbs(t.KeyFile):
		bad("tls.key_file: %q must be absolute", t.KeyFile)
	}
	if c.Workers < 1 || c.Workers > maxWorkers {
		bad("workers: must be 1 to %d, got %d", maxWorkers, c.Workers)
	}
	if c.ShutdownGrace < 0 {
		bad("shutdown_grace: must not be negative")
	}
	if c.Repository.PruneMargin < 0 {
		bad("repository.prune_margin: must not be negative")
	}
	if c.Repository.ExportCacheMB < 0 {
		bad("repository.export_cache_mb: must not be negative")
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level: %q is not one of debug, info, warn, error", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		bad("log.format: %q is not one of text, json", c.Log.Format)
	}
	switch c.Compression {
	case "fastest", "default", "better", "best":
	default:
		bad("compression: %q is not one of fastest, default, better, best", c.Compression)
	}
	errs = append(errs, c.Auth.validate()...)
	for i, h := range c.AllowedHosts {
		if h == "" || strings.ContainsAny(h, "/ *") {
			bad("allowed_hosts[%d]: %q must be a host name or name:port, like backup.example.com", i, h)
		}
	}
	for i, o := range c.WebSocket.AllowedOrigins {
		if u, err := url.Parse(o); err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") || strings.TrimRight(u.Path, "/") != "" {
			bad("websocket.allowed_origins[%d]: %q must be an origin: scheme://host[:port], like https://ops.example.com", i, o)
		}
	}
	if c.WebSocket.QueueSize < 1 {
		bad("websocket.queue_size: must be at least 1")
	}
	if c.WebSocket.QueueBytes < 64<<10 || c.WebSocket.TotalBytes < c.WebSocket.QueueBytes {
		bad("websocket.queue_bytes: must be at least 65536, and websocket.total_bytes at least queue_bytes (got %d and %d)", c.WebSocket.QueueBytes, c.WebSocket.TotalBytes)
	}
	for _, name := range c.SourceNames() {
		if name == CatalogSource && !c.NoCatalogSource {
			bad("sources.%s: the name is taken by the built-in catalog source (set no_catalog_source: true to use it)", name)
		}
		errs = append(errs, c.Sources[name].validate(name)...)
		if c.Sources[name].Verify && len(c.Encryption.Recipients) > 0 && c.Encryption.IdentityFile == "" {
			bad("sources.%s: verify: true needs encryption.identity_file: the daemon cannot read an encrypted archive without a private key", name)
		}
	}
	for i, s := range c.Webhooks.Secrets {
		if !strings.HasPrefix(s, "whsec_") {
			bad("webhooks.secrets[%d]: must start with whsec_", i)
		}
	}
	for i, p := range c.Webhooks.TrustedProxies {
		if _, _, err := net.ParseCIDR(p); err != nil {
			bad("webhooks.trusted_proxies[%d]: %q is not a CIDR like 10.0.0.0/8", i, p)
		}
	}
	for i, o := range c.Webhooks.Outbound {
		if u, err := url.Parse(o.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("webhooks.outbound[%d].url: %q is not an http(s) URL", i, o.URL)
		}
		if !strings.HasPrefix(o.Secret, "whsec_") {
			bad("webhooks.outbound[%d].secret: must start with whsec_", i)
		}
		for j, typ := range o.Events {
			if !domain.IsStoredEventType(typ) {
				bad("webhooks.outbound[%d].events[%d]: %q is not an event type (backup.queued, backup.started, backup.succeeded, backup.failed, backup.canceled, backup.verified, report.received, repo.pruned, config.reloaded, or * for all)", i, j, typ)
			}
		}
	}
	return errors.Join(errs...)
}

func (s Source) validate(name string) []error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("sources.%s: "+format, append([]any{name}, args...)...))
	}
	if !domain.ValidName(name) {
		bad("the name must be 1-64 letters, digits, '_', '.' or '-'")
	}
	switch s.Kind {
	case KindFiles, KindSQLite:
		switch {
		case s.Path == "":
			bad("path: required for kind %s", s.Kind)
		case !filepath.IsAbs(s.Path):
			// Relative to what? The daemon's working directory is / under
			// systemd and wherever it was started otherwise.
			bad("path: %q must be absolute", s.Path)
		}
	case KindCommand:
		if len(s.Command) == 0 || s.Command[0] == "" {
			bad("command: required for kind command, as a list: [\"pg_dumpall\", \"-U\", \"postgres\"]")
		}
	case KindPostgres, KindMySQL:
		if len(s.Databases) == 0 && !s.All {
			bad("databases: list at least one database, or set all: true")
		}
		if len(s.Databases) > 0 && s.All {
			bad("databases and all: true exclude each other: all: true dumps every database; a list dumps only those")
		}
		if s.Port < 0 || s.Port > 65535 {
			bad("port: %d is out of range", s.Port)
		}
	case "":
		bad("kind: required (files, sqlite, command, postgres or mysql)")
	default:
		bad("kind: %q is not one of files, sqlite, command, postgres, mysql", s.Kind)
	}
	if s.Schedule != "" {
		if _, err := cron.ParseStandard(s.Schedule); err != nil {
			bad("schedule: %q is not a cron expression (5 fields, or @daily, @every 1h): %v", s.Schedule, err)
		}
	}
	for _, k := range []struct {
		name string
		n    int
	}{{"keep", s.Keep}, {"keep_daily", s.KeepDaily}, {"keep_weekly", s.KeepWeekly}, {"keep_monthly", s.KeepMonthly}} {
		if k.n < 0 {
			bad("%s: must not be negative", k.name)
		}
	}
	if s.Timeout < 0 {
		bad("timeout: must not be negative")
	}
	return errs
}

func (a Auth) validate() []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	names, values := map[string]int{}, map[string]int{}
	for i, t := range a.NamedTokens() {
		at := fmt.Sprintf("auth.tokens[%d]", i)
		if !a.Tokens[i].plain && !(a.Tokens[i].Name == "" && len(a.Tokens[i].Scopes) == 0) {
			if !domain.ValidName(t.Name) {
				bad("%s.name: %q must be 1-64 letters, digits, '_', '.' or '-' (logs name the token by it)", at, t.Name)
			}
			if len(t.Scopes) == 0 {
				bad("%s.scopes: list at least one of %s", at, strings.Join(domain.Scopes, ", "))
			}
			for j, sc := range t.Scopes {
				if !domain.IsScope(sc) {
					bad("%s.scopes[%d]: %q is not one of %s", at, j, sc, strings.Join(domain.Scopes, ", "))
				}
			}
			at += ".token"
		}
		switch {
		case len(t.Token) < 16:
			bad("%s: a token must be at least 16 characters", at)
		case !tokenChars(t.Token):
			bad("%s: a token must be printable ASCII without spaces (it travels in an Authorization header); make one with: openssl rand -hex 24", at)
		}
		if j, dup := names[t.Name]; dup {
			bad("%s: the name %q is taken by auth.tokens[%d]", at, t.Name, j)
		}
		if j, dup := values[t.Token]; dup {
			bad("%s: the same token as auth.tokens[%d]", at, j)
		}
		names[t.Name], values[t.Token] = i, i
	}
	return errs
}

func tokenChars(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}
