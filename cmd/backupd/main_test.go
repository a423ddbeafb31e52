package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := newRootCmd()
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
	if err == nil || !strings.Contains(err.Error(), "line 6: field paht not found") {
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
}
