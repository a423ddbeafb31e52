package deploy_test

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/backupd/backupd/internal/config"
	"github.com/backupd/backupd/internal/testdaemon"
	"github.com/backupd/backupd/internal/testenv"
)

// unitKeys reads a systemd unit file: section.key -> the values given, in
// order (a key may be given more than once).
func unitKeys(t *testing.T, path string) map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "["):
			section = strings.Trim(line, "[]")
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("%s: %q is not key=value", path, line)
			}
			out[section+"."+k] = append(out[section+"."+k], v)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSystemdUnit checks the hardening of deploy/backupd.service, that it
// gives the daemon longer to stop than shutdown_grace, and, where
// systemd-analyze is installed, that systemd accepts the unit.
func TestSystemdUnit(t *testing.T) {
	keys := unitKeys(t, "backupd.service")
	for key, want := range map[string]string{
		"Service.User":                    "backupd",
		"Service.ProtectSystem":           "strict",
		"Service.ReadWritePaths":          "/var/lib/backupd",
		"Service.ProtectHome":             "yes",
		"Service.PrivateTmp":              "yes",
		"Service.NoNewPrivileges":         "yes",
		"Service.CapabilityBoundingSet":   "",
		"Service.RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
		"Service.SystemCallFilter":        "@system-service",
		"Service.ExecReload":              "/bin/kill -HUP $MAINPID",
		"Service.Restart":                 "on-failure",
		"Service.KillMode":                "mixed",
	} {
		if got := keys[key]; len(got) != 1 || got[0] != want {
			t.Errorf("%s = %q, want %q", key, got, want)
		}
	}
	if got := keys["Service.ExecStart"]; len(got) != 1 || !strings.Contains(got[0], "--data-dir /var/lib/backupd") {
		t.Errorf("ExecStart = %q: the data dir must be the one ReadWritePaths= opens", got)
	}
	stop, err := time.ParseDuration(strings.Join(keys["Service.TimeoutStopSec"], ""))
	if grace := config.Default().ShutdownGrace; err != nil || stop <= grace+5*time.Second {
		t.Errorf("TimeoutStopSec = %q (%v): want more than shutdown_grace (%s) and the HTTP shutdown (5s)", keys["Service.TimeoutStopSec"], err, grace)
	}

	// Skips without it, and fails under CI=true (.ci/run installs it).
	analyze := testenv.Command(t, "systemd-analyze")
	// systemd-analyze verify wants ExecStart to exist: point it at a
	// built daemon.
	backupd, _ := testdaemon.Binaries(t)
	raw, err := os.ReadFile("backupd.service")
	if err != nil {
		t.Fatal(err)
	}
	unit := filepath.Join(t.TempDir(), "backupd.service")
	if err := os.WriteFile(unit, []byte(strings.ReplaceAll(string(raw), "/usr/local/bin/backupd", backupd)), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(analyze, "verify", unit).CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}
