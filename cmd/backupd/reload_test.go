package main_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/backupd/backupd/internal/client"
	"github.com/backupd/backupd/internal/domain"
	"github.com/backupd/backupd/internal/testdaemon"
)

const (
	reloadAdmin = "reload-admin-token-0123456789"
	reloadNew   = "reload-added-token-0123456789"
)

// TestReloadWhileBackupRuns: a SIGHUP that adds a source, a schedule and a
// token takes effect while a backup runs, which goes on untouched; a
// broken config on SIGHUP is refused and the old one kept; the API's
// reload does the same; every outcome is a config.reloaded event.
func TestReloadWhileBackupRuns(t *testing.T) {
	before := "auth:\n  tokens: [" + reloadAdmin + "]\nsources:\n  slow:\n    kind: command\n    command: [\"sh\", \"-c\", \"sleep 3; echo slow\"]\n"
	d := testdaemon.Start(t, testdaemon.Options{Config: before, Token: reloadAdmin})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	slow, err := d.Client().CreateBackup(ctx, "slow")
	if err != nil {
		t.Fatal(err)
	}
	waitRunning(t, d, slow.ID)

	after := strings.Replace(before, "tokens: ["+reloadAdmin+"]", "tokens: ["+reloadAdmin+", "+reloadNew+"]", 1) +
		"    schedule: \"@every 1h\"\n" +
		"  added:\n    kind: command\n    command: [\"echo\", \"added\"]\n"
	writeDaemonConfig(t, d, after)
	if err := syscall.Kill(d.PID(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitLog(t, d, "config reloaded")
	sources, err := d.Client().Sources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]domain.SourceInfo{}
	for _, s := range sources {
		byName[s.Name] = s
	}
	if _, ok := byName["added"]; !ok {
		t.Fatalf("after SIGHUP the sources are %v, without the added one", sources)
	}
	if s := byName["slow"]; s.Schedule != "@every 1h" || s.NextRun == nil || time.Until(*s.NextRun) < 50*time.Minute {
		t.Fatalf("slow's schedule after SIGHUP: %q, next %v", s.Schedule, s.NextRun)
	}
	added, err := d.Client().CreateBackup(ctx, "added")
	if err != nil {
		t.Fatal(err)
	}
	if b := d.WaitBackup(added.ID); b.Status != domain.StatusSucceeded {
		t.Fatalf("the added source's backup: %s %s", b.Status, b.Error)
	}
	nc, err := client.New(d.URL, reloadNew)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nc.Sources(ctx); err != nil {
		t.Fatalf("the token added by the reload: %v", err)
	}
	if b := d.WaitBackup(slow.ID); b.Status != domain.StatusSucceeded {
		t.Fatalf("the backup running during the reload ended %s (%s), want succeeded", b.Status, b.Error)
	}

	// A broken config is refused whole: the added source and token stay.
	writeDaemonConfig(t, d, after+"  broken:\n    kind: files\n    paht: /srv\n")
	if err := syscall.Kill(d.PID(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitLog(t, d, "config reload refused")
	if _, err := nc.Sources(ctx); err != nil {
		t.Fatalf("after a refused reload, the token it would have kept: %v", err)
	}
	if _, err := d.Client().CreateBackup(ctx, "added"); err != nil {
		t.Fatalf("after a refused reload, the source added before: %v", err)
	}

	// The API's reload: refused with 400 naming the problem, then applied.
	code, body := adminReload(t, d)
	if code != http.StatusBadRequest || !strings.Contains(body["detail"].(string), "paht") {
		t.Fatalf("POST /api/v1/admin/reload with a broken config: %d %v", code, body)
	}
	writeDaemonConfig(t, d, before)
	code, body = adminReload(t, d)
	if code != http.StatusOK || body["ok"] != true || !strings.Contains(strings.Join(toStrings(body["applied"]), ","), "sources") {
		t.Fatalf("POST /api/v1/admin/reload: %d %v", code, body)
	}
	if _, err := nc.Sources(ctx); !client.IsUnauthorized(err) {
		t.Fatalf("the token the last reload removed still works: %v", err)
	}
	evs, err := d.Client().Events(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var oks, refused int
	for _, ev := range evs {
		if ev.Type != domain.EventConfigReloaded {
			continue
		}
		var r domain.ReloadResult
		if err := json.Unmarshal(ev.Data, &r); err != nil {
			t.Fatal(err)
		}
		if r.OK {
			oks++
		} else if r.Error != "" {
			refused++
		}
	}
	if oks != 2 || refused != 2 {
		t.Fatalf("config.reloaded events: %d applied and %d refused, want 2 and 2", oks, refused)
	}
}

// TestReloadNamesWhatNeedsARestart: a changed key that only a restart can
// apply is named in the outcome; the daemon goes on as it was.
func TestReloadNamesWhatNeedsARestart(t *testing.T) {
	d := testdaemon.Start(t, testdaemon.Options{Config: "workers: 2\n"})
	writeDaemonConfig(t, d, "workers: 3\ncompression: fastest\n")
	code, body := adminReload(t, d)
	if code != http.StatusOK {
		t.Fatalf("reload: %d %v", code, body)
	}
	if got := strings.Join(toStrings(body["restart_needed"]), ","); got != "compression,workers" {
		t.Fatalf("restart_needed = %q, want compression,workers", got)
	}
	waitLog(t, d, "only a restart applies")
}

func writeDaemonConfig(t *testing.T, d *testdaemon.Daemon, yaml string) {
	t.Helper()
	path := filepath.Join(d.DataDir, "backupd.yaml")
	tmp := path + ".new"
	if err := os.WriteFile(tmp, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func adminReload(t *testing.T, d *testdaemon.Daemon) (int, map[string]any) {
	t.Helper()
	var hdr []string
	if d.Token != "" {
		hdr = []string{"Authorization", "Bearer " + d.Token}
	}
	code, body, _ := call(t, d, "POST", "/api/v1/admin/reload", "", hdr...)
	return code, body
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}
