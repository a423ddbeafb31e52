package config_test

import (
	"strings"
	"testing"
)

// TestDecodeErrorsNameKeyLineAndExpectation: a value of the wrong type or
// an unknown key is reported with its key path, its line, what was
// expected, and for a typo the key that was meant.
func TestDecodeErrorsNameKeyLineAndExpectation(t *testing.T) {
	cases := []struct {
		name, yaml, want string
	}{
		{"duration as a number",
			"listen: 127.0.0.1:1\nsources:\n  docs:\n    kind: files\n    path: /srv/docs\n    schedule: \"@daily\"\n    timeout: 5\n",
			"sources.docs.timeout (line 7): expected a duration like 90s or 2h, got 5"},
		{"duration as a word", "shutdown_grace: soon\n",
			`shutdown_grace (line 1): expected a duration like 90s or 2h, got "soon"`},
		{"int as a word", "listen: 127.0.0.1:1\ndata_dir: /d\nworkers: two\n",
			`workers (line 3): expected a whole number, got "two"`},
		{"int as a fraction", "workers: 1.5\n", "workers (line 1): expected a whole number, got 1.5"},
		{"bool as a word", "sources:\n  a:\n    kind: files\n    path: /x\n    verify: sometimes\n",
			`sources.a.verify (line 5): expected true or false, got "sometimes"`},
		{"list as a scalar", "allowed_hosts: backup.example.com\n",
			`allowed_hosts (line 1): expected a list like [a, b] or lines starting with "- ", got "backup.example.com"`},
		{"list item of the wrong kind", "sources:\n  a:\n    kind: command\n    command:\n      - sh\n      - {x: 1}\n",
			"sources.a.command[1] (line 6): expected a string"},
		{"mapping as a scalar", "log: debug\n", `log (line 1): expected a mapping of keys to values (key: value on lines of their own), got "debug"`},
		{"unknown top-level key", "listen: 127.0.0.1:1\nwrokers: 2\n", `line 2: unknown key "wrokers"; did you mean "workers"?`},
		{"unknown nested key", "listen: 127.0.0.1:1\nsources:\n  a:\n    kind: files\n    path: /x\n    pathh: /y\n",
			`sources.a (line 6): unknown key "pathh"; did you mean "path"?`},
		{"unknown key in a list item", "webhooks:\n  outbound:\n    - url: https://x.example/\n      secrt: whsec_YWJj\n",
			`webhooks.outbound[0] (line 4): unknown key "secrt"; did you mean "secret"?`},
		{"unknown key far from any", "tls:\n  banana: 1\n",
			`tls (line 2): unknown key "banana"; the keys here are cert_file, key_file, terminated_by_proxy`},
		{"token entry with a typo", "auth:\n  tokens:\n    - name: ci\n      token: aaaaaaaaaaaaaaaaaaaa\n      scope: [read]\n",
			`auth.tokens[0] (line 5): unknown key "scope"; did you mean "scopes"?`},
		{"token entry as a list", "auth:\n  tokens:\n    - [a, b]\n",
			"auth.tokens[0] (line 3): a token is a string, or a mapping with name, token and scopes"},
		{"two mistakes, both reported", "workers: two\nlisten: 127.0.0.1:1\nshutdown_grace: 5\n",
			"workers (line 1): expected a whole number, got \"two\"\nshutdown_grace (line 3): expected a duration like 90s or 2h, got 5"},
		{"merge key checked too", "defaults: &d\n  kind: files\nsources:\n  a:\n    <<: {kind: files, pth: /x}\n",
			`line 1: unknown key "defaults"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := parse(t, c.yaml)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v\nwant it to contain %q", err, c.want)
			}
			if strings.Contains(err.Error(), "not found in type") || strings.Contains(err.Error(), "cannot unmarshal") {
				t.Errorf("err = %v: yaml.v3's words leak through", err)
			}
		})
	}
}

// What is right still decodes: both forms of a token, anchors and merge
// keys, null values that keep the defaults.
func TestCheckAcceptsWhatDecodes(t *testing.T) {
	cfg, err := parse(t, `
workers:
auth:
  tokens:
    - plain-token-0123456789
    - {name: ci, token: ci-token-0123456789abc, scopes: [read, run]}
sources:
  a: &a
    kind: files
    path: /x
    timeout: 90s
  b:
    <<: *a
    path: /y
`)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := cfg.Workers, 2; got != want {
		t.Errorf("workers with no value = %d, want the default %d", got, want)
	}
	if got := cfg.Auth.NamedTokens(); len(got) != 2 || got[0].Name != "tokens[0]" || got[1].Name != "ci" {
		t.Errorf("tokens = %+v", got)
	}
	if got, want := cfg.Sources["b"].Path, "/y"; got != want || cfg.Sources["b"].Kind != "files" {
		t.Errorf("merged source b = %+v", cfg.Sources["b"])
	}
}
