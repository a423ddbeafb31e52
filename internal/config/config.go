// Package config reads backupd's YAML configuration: defaults first, then the
// file (strict: an unknown key is an error naming the key, its line and the
// nearest known key; a value of the wrong type names the key, its line and
// what was expected), with ${VAR} expanded from the environment before
// parsing.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/backupd/backupd/internal/domain"
)

// Config is the whole daemon configuration.
type Config struct {
	// Listen is the HTTP listen address.
	Listen string `yaml:"listen"`
	// DataDir holds the catalog and, by default, the archives.
	DataDir string `yaml:"data_dir"`
	// ArchiveDir is where archives are stored; default DataDir/archives.
	ArchiveDir string `yaml:"archive_dir"`
	// Storage, if its s3 part is set, sends archives to an S3-compatible
	// bucket instead of ArchiveDir.
	Storage Storage `yaml:"storage"`
	// Encryption, if it names recipients, encrypts every archive with age.
	Encryption Encryption `yaml:"encryption"`
	// Repository tunes the deduplicated repository backups are stored in.
	Repository Repository `yaml:"repository"`
	Log        Log        `yaml:"log"`
	Auth       Auth       `yaml:"auth"`
	// TLS, with a certificate and key, serves HTTPS and WSS on Listen.
	TLS TLS `yaml:"tls"`
	// Workers is how many backups run at once (each source runs at most one).
	Workers int `yaml:"workers"`
	// ShutdownGrace is how long running backups may take to finish on
	// SIGINT/SIGTERM before they are canceled and marked failed.
	ShutdownGrace time.Duration `yaml:"shutdown_grace"`
	// Compression is the zstd level: fastest, default, better or best.
	Compression string            `yaml:"compression"`
	Sources     map[string]Source `yaml:"sources"`
	Webhooks    Webhooks          `yaml:"webhooks"`
	WebSocket   WebSocket         `yaml:"websocket"`
	// AllowedHosts are host names (or name:port) the daemon answers to
	// when no tokens are configured, besides loopback names and addresses
	// and the listen address: the name of an SSH tunnel or a proxy that
	// keeps the Host header. Other Host headers get 421, which is what
	// keeps DNS-rebinding pages out.
	AllowedHosts []string `yaml:"allowed_hosts"`
	// NoCatalogSource turns off the built-in "catalog" source.
	NoCatalogSource bool `yaml:"no_catalog_source"`
}

// Encryption encrypts archives with age (tar -> zstd -> age).
type Encryption struct {
	// Recipients are age public keys (age1..., from age-keygen): every
	// archive is readable with the private key of any one of them.
	Recipients []string `yaml:"recipients"`
	// IdentityFile is an age identity (private key) file for restore
	// drills on the daemon. Without it the daemon cannot read its own
	// archives, which is the point of encrypting them; drills then run
	// where the key is, with backupctl restore --identity.
	IdentityFile string `yaml:"identity_file"`
}

// Repository tunes the repository (docs/repository.md).
type Repository struct {
	// PruneMargin is how long a pack no snapshot needs stays marked
	// before prune deletes it: a second guard, beside the leases of
	// backups in progress, against a writer the catalog cannot see.
	PruneMargin time.Duration `yaml:"prune_margin"`
	// ExportCacheMB is how many MiB of exports (the tar.zst files that
	// downloads of repository backups send) are kept in data_dir/exports.
	ExportCacheMB int64 `yaml:"export_cache_mb"`
}

// Storage chooses where archives are kept.
type Storage struct {
	S3 *S3 `yaml:"s3"`
}

// S3 is an S3-compatible bucket (AWS S3, MinIO, Ceph RGW, ...).
type S3 struct {
	// Endpoint is host[:port], without a scheme: s3.amazonaws.com,
	// minio.internal:9000.
	Endpoint string `yaml:"endpoint"`
	Bucket   string `yaml:"bucket"`
	// Prefix is put before every archive name, e.g. "backupd/".
	Prefix    string `yaml:"prefix"`
	Region    string `yaml:"region"`
	AccessKey string `yaml:"access_key"`
	SecretKey string `yaml:"secret_key"`
	// Insecure talks plain HTTP instead of HTTPS.
	Insecure bool `yaml:"insecure"`
}

// Log configures log/slog.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text or json
}

// Auth configures bearer-token authentication of API and WebSocket clients.
type Auth struct {
	Tokens []Token `yaml:"tokens"`
}

// Token is one entry of auth.tokens: a plain string (full access, named
// tokens[N] in logs), or {name, token, scopes} for a token limited to
// scopes (domain.Scopes).
type Token struct {
	Name   string   `yaml:"name"`
	Token  string   `yaml:"token"`
	Scopes []string `yaml:"scopes"`
	// plain is set for an entry given as a bare string.
	plain bool
}

// UnmarshalYAML takes either form of a token entry.
func (t *Token) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*t = Token{Token: n.Value, plain: true}
		return n.Decode(&t.Token)
	}
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: a token is a string, or a mapping with name, token and scopes", n.Line)
	}
	// node.Decode does not inherit the decoder's strictness: check the
	// keys here, so that a misspelt scopes is not silently full access.
	for i := 0; i+1 < len(n.Content); i += 2 {
		switch k := n.Content[i]; k.Value {
		case "name", "token", "scopes":
		default:
			return fmt.Errorf("line %d: field %s not found in a token entry (name, token, scopes)", k.Line, k.Value)
		}
	}
	type fields Token // without this method
	var f fields
	if err := n.Decode(&f); err != nil {
		return err
	}
	*t = Token(f)
	return nil
}

// NamedTokens returns the tokens with names and scopes filled in: tokens[N]
// and admin for plain strings.
func (a Auth) NamedTokens() []Token {
	out := make([]Token, len(a.Tokens))
	for i, t := range a.Tokens {
		if t.plain || (t.Name == "" && len(t.Scopes) == 0) {
			t.Name, t.Scopes = fmt.Sprintf("tokens[%d]", i), []string{domain.ScopeAdmin}
		}
		out[i] = t
	}
	return out
}

// TLS configures HTTPS on the listener.
type TLS struct {
	// CertFile and KeyFile are a PEM certificate (chain) and its private
	// key. Both set turns TLS on; they are read again when they change on
	// disk and on SIGHUP.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// TerminatedByProxy says that a reverse proxy in front of the daemon
	// does TLS, which silences the warning about plain HTTP beyond
	// loopback.
	TerminatedByProxy bool `yaml:"terminated_by_proxy"`
}

// Enabled reports whether the daemon serves TLS itself.
func (t TLS) Enabled() bool { return t.CertFile != "" && t.KeyFile != "" }

// Source is one configured backup source. Which fields apply depends on Kind.
type Source struct {
	Kind string `yaml:"kind"` // files, sqlite, command, postgres, mysql
	// Path is the directory (files) or database file (sqlite).
	Path string `yaml:"path"`
	// Exclude lists glob patterns (files), matched against paths relative to Path.
	Exclude []string `yaml:"exclude"`
	// Command is the argv whose stdout is the payload (command).
	Command []string `yaml:"command"`
	// Database sources (postgres, mysql).
	Host      string   `yaml:"host"`
	Port      int      `yaml:"port"`
	User      string   `yaml:"user"`
	Password  string   `yaml:"password"`
	Databases []string `yaml:"databases"`
	// All dumps every database plus globals (postgres) or --all-databases (mysql).
	All bool `yaml:"all"`
	// Schedule is a cron expression (5 fields, or @daily, @every 1h, ...).
	Schedule string `yaml:"schedule"`
	// Keep is how many of the newest succeeded archives to keep. With
	// KeepDaily, KeepWeekly and KeepMonthly it makes the retention
	// (domain.Retention): an archive any of them keeps stays. All zero
	// keeps every archive.
	Keep        int `yaml:"keep"`
	KeepDaily   int `yaml:"keep_daily"`
	KeepWeekly  int `yaml:"keep_weekly"`
	KeepMonthly int `yaml:"keep_monthly"`
	// Verify runs a restore drill after every successful backup.
	Verify bool `yaml:"verify"`
	// Timeout cancels a backup that runs longer; 0 means no limit.
	Timeout time.Duration `yaml:"timeout"`
}

// Retention is the source's keep rules.
func (s Source) Retention() domain.Retention {
	return domain.Retention{Last: s.Keep, Daily: s.KeepDaily, Weekly: s.KeepWeekly, Monthly: s.KeepMonthly}
}

// Webhooks configures inbound reports and outbound notifications.
type Webhooks struct {
	// Secrets verify inbound signatures (whsec_<base64>); several for rotation.
	Secrets []string `yaml:"secrets"`
	// TrustedProxies are CIDRs whose X-Forwarded-For is believed.
	TrustedProxies []string   `yaml:"trusted_proxies"`
	Outbound       []Outbound `yaml:"outbound"`
}

// Outbound is one endpoint that is told when backups end.
type Outbound struct {
	URL    string   `yaml:"url"`
	Secret string   `yaml:"secret"`
	Events []string `yaml:"events"`
}

// WebSocket configures the event hub.
type WebSocket struct {
	// AllowedOrigins lists Origin values accepted besides the daemon's own host.
	AllowedOrigins []string `yaml:"allowed_origins"`
	// QueueSize is each client's bounded queue; a client that fills it is
	// disconnected as slow.
	QueueSize int `yaml:"queue_size"`
	// QueueBytes bounds the bytes queued for one client; a client that
	// passes it is disconnected as slow.
	QueueBytes int64 `yaml:"queue_bytes"`
	// TotalBytes bounds the bytes all replays hold together; past it, the
	// replays blocked longest on their peers are disconnected as slow.
	TotalBytes int64 `yaml:"total_bytes"`
}

// Default returns the configuration used when no file is given.
func Default() Config {
	return Config{
		Listen:        "127.0.0.1:8080",
		DataDir:       "./backupd-data",
		Log:           Log{Level: "info", Format: "text"},
		Workers:       2,
		ShutdownGrace: 30 * time.Second,
		Compression:   "default",
		Repository:    Repository{PruneMargin: time.Hour, ExportCacheMB: 4096},
		WebSocket:     WebSocket{QueueSize: 256, QueueBytes: 8 << 20, TotalBytes: 32 << 20},
	}
}

// Load reads the file at path over the defaults; an empty path gives Default().
func Load(path string) (Config, error) {
	cfg := Default()
	if path == "" {
		return cfg, cfg.Validate()
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return cfg, fmt.Errorf("config file %s does not exist: create it, point --config at one that does, or leave --config out for the built-in defaults", path)
	}
	if err != nil {
		return cfg, fmt.Errorf("open config: %w", err)
	}
	defer f.Close()
	if err := Parse(f, &cfg); err != nil {
		return cfg, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// Absolute makes DataDir and ArchiveDir absolute, so that logs and sources
// see the same paths whatever the working directory is later.
func (c *Config) Absolute() error {
	for _, p := range []*string{&c.DataDir, &c.ArchiveDir} {
		if *p == "" {
			continue
		}
		abs, err := filepath.Abs(*p)
		if err != nil {
			return fmt.Errorf("resolve %s: %w", *p, err)
		}
		*p = abs
	}
	return nil
}

// Parse decodes YAML from r into cfg (which should hold the defaults),
// expanding ${VAR} first, and validates the result.
func Parse(r io.Reader, cfg *Config) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("read config: %w", err)
	}
	expanded, err := expandEnv(raw)
	if err != nil {
		return err
	}
	// The document is checked as a tree first, for errors that name the
	// key, its line and what it should look like; the strict decode after
	// it is the backstop (duplicate keys, anything the walk lets by).
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(expanded)).Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("parse config: %w", err)
	}
	if err := checkNode(&doc); err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(expanded))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("parse config: %w", err)
	}
	return cfg.Validate()
}

// CatalogPath is the SQLite catalog's file.
func (c Config) CatalogPath() string { return filepath.Join(c.DataDir, "catalog.db") }

// ArchivePath is where archives are stored.
func (c Config) ArchivePath() string {
	if c.ArchiveDir != "" {
		return c.ArchiveDir
	}
	return filepath.Join(c.DataDir, "archives")
}

// SourceNames returns the configured source names, sorted.
func (c Config) SourceNames() []string {
	names := make([]string, 0, len(c.Sources))
	for n := range c.Sources {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
