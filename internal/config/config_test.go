package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/backupd/backupd/internal/config"
	"github.com/backupd/backupd/internal/domain"
)

func parse(t *testing.T, yaml string) (config.Config, error) {
	t.Helper()
	cfg := config.Default()
	err := config.Parse(strings.NewReader(yaml), &cfg)
	return cfg, err
}

func TestDefaultsAreValid(t *testing.T) {
	cfg := config.Default()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "127.0.0.1:8080" || cfg.DataDir != "./backupd-data" {
		t.Fatalf("defaults = %s %s", cfg.Listen, cfg.DataDir)
	}
}

func TestParseFull(t *testing.T) {
	t.Setenv("DOCS_DIR", "/srv/docs")
	cfg, err := parse(t, `
listen: 127.0.0.1:9090
workers: 3
shutdown_grace: 1m
sources:
  docs:
    kind: files
    path: ${DOCS_DIR}
    schedule: "@daily"
    timeout: 2h
    keep: 3
    keep_daily: 7
    keep_weekly: 4
    keep_monthly: 12
  dump:
    kind: command
    command: [sh, -c, "echo $HOME"]
`)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := cfg.Sources["docs"].Retention(), (domain.Retention{Last: 3, Daily: 7, Weekly: 4, Monthly: 12}); got != want {
		t.Errorf("retention = %+v, want %+v", got, want)
	}
	if got, want := cfg.Sources["docs"].Path, "/srv/docs"; got != want {
		t.Errorf("expanded path = %q, want %q", got, want)
	}
	if got, want := cfg.Sources["dump"].Command[2], "echo $HOME"; got != want {
		t.Errorf("bare $VAR must stay as written: %q, want %q", got, want)
	}
	if cfg.ShutdownGrace != time.Minute || cfg.Sources["docs"].Timeout != 2*time.Hour || cfg.Workers != 3 {
		t.Errorf("durations/ints = %v %v %d", cfg.ShutdownGrace, cfg.Sources["docs"].Timeout, cfg.Workers)
	}
	if got := cfg.SourceNames(); len(got) != 2 || got[0] != "docs" || got[1] != "dump" {
		t.Errorf("source names = %v", got)
	}
}

func TestUnknownKeyNamesKeyAndLine(t *testing.T) {
	_, err := parse(t, "listen: 127.0.0.1:1\nsources:\n  a:\n    kind: files\n    path: /x\n    pathh: /y\n")
	if err == nil || !strings.Contains(err.Error(), "line 6") || !strings.Contains(err.Error(), "pathh") {
		t.Fatalf("err = %v, want the key and line 6", err)
	}
}

func TestErrorsNameWhatToFix(t *testing.T) {
	cases := []struct{ yaml, want string }{
		{"listen: nope", "listen:"},
		{"workers: 0", "workers:"},
		{"sources:\n  a:\n    kind: tape\n", `kind: "tape" is not one of`},
		{"sources:\n  a:\n    kind: files\n", "sources.a: path: required"},
		{"sources:\n  a:\n    kind: command\n", "sources.a: command: required"},
		{"sources:\n  a:\n    kind: postgres\n", "sources.a: databases:"},
		{"sources:\n  a:\n    kind: mysql\n    databases: [x]\n    all: true\n", "sources.a: databases and all: true exclude each other"},
		{"sources:\n  a:\n    kind: files\n    path: srv/docs\n", `sources.a: path: "srv/docs" must be absolute`},
		{"sources:\n  a:\n    kind: sqlite\n    path: app.db\n", `sources.a: path: "app.db" must be absolute`},
		{"sources:\n  a:\n    kind: files\n    path: /x\n    schedule: every day\n", "sources.a: schedule:"},
		{"sources:\n  ../x:\n    kind: files\n    path: /x\n", "sources.../x: the name"},
		{"sources:\n  a:\n    kind: files\n    path: /x\n    keep_weekly: -1\n", "sources.a: keep_weekly: must not be negative"},
		{"sources:\n  catalog:\n    kind: files\n    path: /x\n", "taken by the built-in catalog source"},
		{"auth:\n  tokens: [short]\n", "at least 16 characters"},
		{"webhooks:\n  secrets: [abc]\n", "whsec_"},
		{"webhooks:\n  outbound:\n    - url: https://x.example/hook\n      secret: whsec_YWJj\n      events: [backup.succeeded, backup.done]\n",
			`webhooks.outbound[0].events[1]: "backup.done" is not an event type`},
		{"password: ${BACKUPD_TEST_SURELY_UNSET}\n", "BACKUPD_TEST_SURELY_UNSET"},
		{"encryption:\n  recipients: [age1nope]\n", `encryption.recipients[0]: "age1nope" is not an age public key`},
		{"encryption:\n  identity_file: /k\n", "encryption.recipients is empty"},
		{"encryption:\n  recipients: [age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq]\n  identity_file: key.txt\n", `encryption.identity_file: "key.txt" must be absolute`},
		{"encryption:\n  recipients: [age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq]\nsources:\n  a:\n    kind: files\n    path: /x\n    verify: true\n", "sources.a: verify: true needs encryption.identity_file"},
		{"storage:\n  s3:\n    bucket: b\n    access_key: k\n    secret_key: s\n", "storage.s3.endpoint: must be set"},
		{"storage:\n  s3:\n    endpoint: https://s3.example.com\n    bucket: b\n    access_key: k\n    secret_key: s\n", "must be host[:port] only"},
		{"storage:\n  s3:\n    endpoint: s3.example.com\n    access_key: k\n    secret_key: s\n", "storage.s3.bucket: must be set"},
		{"storage:\n  s3:\n    endpoint: s3.example.com\n    bucket: b\n", "access_key and secret_key must be set"},
		{"storage:\n  s3:\n    endpoint: s3.example.com\n    bucket: Backups_2026\n    access_key: k\n    secret_key: s\n", `storage.s3.bucket: "Backups_2026": Bucket name contains invalid characters`},
		{"archive_dir: /a\nstorage:\n  s3:\n    endpoint: s3.example.com\n    bucket: b\n    access_key: k\n    secret_key: s\n", "archive_dir and storage.s3 are both set"},
		{"storage:\n  s3:\n    endpoint: s3.example.com\n    bucket: b\n    acces_key: k\n", "acces_key"},
	}
	for _, c := range cases {
		_, err := parse(t, c.yaml)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: err = %v, want it to contain %q", c.yaml, err, c.want)
		}
	}
}

func TestEnvDefault(t *testing.T) {
	cfg, err := parse(t, "listen: ${BACKUPD_TEST_UNSET_LISTEN:-127.0.0.1:7070}\n")
	if err != nil || cfg.Listen != "127.0.0.1:7070" {
		t.Fatalf("listen = %q, %v", cfg.Listen, err)
	}
}
