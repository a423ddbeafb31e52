package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
)

func runCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := newRootCmd(nil)
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

func writeConfig(t *testing.T, yaml string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "backupd.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConfigCheck(t *testing.T) {
	good := writeConfig(t, "sources:\n  docs:\n    kind: files\n    path: /tmp\n")
	out, err := runCmd(t, "config", "check", "--config", good)
	if err != nil || !strings.Contains(out, "config OK: 2 sources") {
		t.Fatalf("good config: %q, %v", out, err)
	}
	bad := writeConfig(t, "sources:\n  docs:\n    kind: files\n    path: /tmp\n    exclude: [a]\n    paht: /x\n")
	_, err = runCmd(t, "config", "check", "--config", bad)
	if err == nil || !strings.Contains(err.Error(), `sources.docs (line 6): unknown key "paht"; did you mean "path"?`) {
		t.Fatalf("unknown key: %v", err)
	}
	missing := filepath.Join(t.TempDir(), "backupd.yaml")
	_, err = runCmd(t, "serve", "--config", missing)
	if err == nil || !strings.Contains(err.Error(), "config file "+missing+" does not exist: create it") {
		t.Fatalf("missing config file: %v", err)
	}
}

func TestRefusesNonLoopbackWithoutToken(t *testing.T) {
	_, err := runCmd(t, "serve", "--listen", "0.0.0.0:0", "--data-dir", t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "without authentication") {
		t.Fatalf("serve on 0.0.0.0 without token: %v", err)
	}
	cfg := writeConfig(t, "auth:\n  tokens: [\"0123456789abcdef0123\"]\n")
	out, err := runCmd(t, "config", "check", "--config", cfg, "--listen", "0.0.0.0:8080")
	if err != nil || !strings.Contains(out, "config OK") {
		t.Fatalf("with a token, 0.0.0.0 is allowed: %q %v", out, err)
	}
}

func TestMigrateRecordsMigrations(t *testing.T) {
	out, err := runCmd(t, "migrate", "--data-dir", t.TempDir())
	if err != nil || !strings.Contains(out, "applied 0001_init.sql") {
		t.Fatalf("migrate: %q %v", out, err)
	}
}

func TestVersion(t *testing.T) {
	out, err := runCmd(t, "version")
	if err != nil || !strings.HasPrefix(out, "backupd ") {
		t.Fatalf("version: %q %v", out, err)
	}
	// --version says the same.
	if flag, err := runCmd(t, "--version"); err != nil || flag != out {
		t.Fatalf("--version: %q %v, want %q", flag, err, out)
	}
}

func TestConfigCheckReadsIdentityFile(t *testing.T) {
	own, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	other, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	keyFile := func(name string, id *age.X25519Identity) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("# created: now\n"+id.String()+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	config := func(identityFile string) string {
		return writeConfig(t, "encryption:\n  recipients: [\""+own.Recipient().String()+"\"]\n  identity_file: "+identityFile+"\n")
	}

	out, err := runCmd(t, "config", "check", "--config", config(keyFile("own.key", own)))
	if err != nil || !strings.Contains(out, "config OK") {
		t.Fatalf("matching identity file: %q, %v", out, err)
	}

	foreign := config(keyFile("other.key", other))
	_, err = runCmd(t, "config", "check", "--config", foreign)
	if err == nil || !strings.Contains(err.Error(), "holds no private key of any of encryption.recipients") {
		t.Fatalf("identity file for another key: %v", err)
	}
	dataDir := filepath.Join(dir, "data")
	_, err = runCmd(t, "serve", "--config", foreign, "--data-dir", dataDir, "--listen", "127.0.0.1:0")
	if err == nil || !strings.Contains(err.Error(), "holds no private key") {
		t.Fatalf("serve with an identity file for another key: %v", err)
	}
	if _, err := os.Stat(dataDir); !os.IsNotExist(err) {
		t.Fatalf("serve refused but touched its data dir: %v", err)
	}

	_, err = runCmd(t, "config", "check", "--config", config(filepath.Join(dir, "absent.key")))
	if err == nil || !strings.Contains(err.Error(), "absent.key") {
		t.Fatalf("missing identity file: %v", err)
	}
}

// config check warns, without failing, about sources that would fail as
// the machine is now: a missing directory or database file, a command or
// dump tool that is not in PATH.
func TestConfigCheckWarnsAboutSources(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("PATH", dir) // nothing in it: no pg_dump, no mariadb-dump
	cfg := writeConfig(t, `sources:
  docs:
    kind: files
    path: `+filepath.Join(dir, "absent")+`
  app:
    kind: sqlite
    path: `+filepath.Join(dir, "app.db")+`
  ldap:
    kind: command
    command: ["slapcat-surely-absent", "-n", "1"]
  shop:
    kind: postgres
    databases: [shop]
  crm:
    kind: mysql
    databases: [crm]
  ok:
    kind: files
    path: `+dir+`
`)
	out, err := runCmd(t, "config", "check", "--config", cfg)
	if err != nil || !strings.Contains(out, "config OK: 7 sources") {
		t.Fatalf("warnings must not fail the check: %q, %v", out, err)
	}
	for _, want := range []string{
		"warning: sources.app: path " + filepath.Join(dir, "app.db") + " does not exist\n",
		"warning: sources.crm: mariadb-dump or mysqldump not found in PATH: install mariadb-client (or mysql-client); its backups fail until then\n",
		"warning: sources.docs: path " + filepath.Join(dir, "absent") + " does not exist\n",
		"warning: sources.ldap: command slapcat-surely-absent is not an executable in PATH or at that path\n",
		"warning: sources.shop: pg_dump not found in PATH: install postgresql-client; its backups fail until then\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("config check output lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "warning:"); n != 5 {
		t.Errorf("%d warnings, want 5 (none for the source that is fine):\n%s", n, out)
	}
}

// TestOneValidation: config check refuses exactly what serve refuses, with
// the same words; neither shows a secret it refuses.
func TestOneValidation(t *testing.T) {
	for _, tt := range []struct{ name, yaml, want string }{
		{"secret not base64", "webhooks:\n  secrets: [\"whsec_not base64!\"]\n", "webhooks.secrets[0]"},
		{"outbound secret not base64", "webhooks:\n  outbound:\n    - {url: \"http://127.0.0.1:9/x\", secret: \"whsec_%%%\"}\n", "webhooks.outbound[0].secret"},
		{"outbound listed twice", "webhooks:\n  outbound:\n    - {url: \"http://127.0.0.1:9/x\", secret: \"whsec_c2VjcmV0\"}\n    - {url: \"http://127.0.0.1:9/x\", secret: \"whsec_c2VjcmV0\"}\n", "listed twice"},
		{"token of spaces", "auth:\n  tokens: [\"                    \"]\n", "auth.tokens[0]"},
		{"token with a space", "auth:\n  tokens: [\"0123456789 abcdefghij\"]\n", "auth.tokens[0]"},
		{"unknown scope", "auth:\n  tokens:\n    - {name: a, token: 0123456789abcdefghij, scopes: [write]}\n", "auth.tokens[0].scopes[0]"},
		{"scoped token without scopes", "auth:\n  tokens:\n    - {name: a, token: 0123456789abcdefghij}\n", "auth.tokens[0].scopes"},
		{"misspelt scopes key", "auth:\n  tokens:\n    - {name: a, token: 0123456789abcdefghij, scope: [read]}\n", `auth.tokens[0] (line 3): unknown key "scope"; did you mean "scopes"?`},
		{"same token twice", "auth:\n  tokens: [0123456789abcdefghij, 0123456789abcdefghij]\n", "the same token as auth.tokens[0]"},
		{"origin without scheme", "websocket:\n  allowed_origins: [ops.example.com]\n", "websocket.allowed_origins[0]"},
		{"missing certificate", "tls:\n  cert_file: /nonexistent/cert.pem\n  key_file: /nonexistent/key.pem\n", "tls.cert_file"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := writeConfig(t, tt.yaml)
			_, checkErr := runCmd(t, "config", "check", "--config", cfg)
			_, serveErr := runCmd(t, "serve", "--config", cfg, "--data-dir", t.TempDir(), "--listen", "127.0.0.1:0")
			if checkErr == nil || serveErr == nil {
				t.Fatalf("config check: %v; serve: %v; want both to refuse", checkErr, serveErr)
			}
			if checkErr.Error() != serveErr.Error() {
				t.Errorf("config check said %q, serve %q", checkErr, serveErr)
			}
			if !strings.Contains(checkErr.Error(), tt.want) {
				t.Errorf("error %q does not name %q", checkErr, tt.want)
			}
			if strings.Contains(checkErr.Error(), "0123456789abcdefghij") {
				t.Errorf("error %q shows the token", checkErr)
			}
		})
	}
}
