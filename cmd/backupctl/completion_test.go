package main_test

import (
	"context"
	"strings"
	"testing"

	"github.com/backupd/backupd/internal/testdaemon"
)

// completions runs backupctl __complete ARGS... and returns the
// suggestions (value and description) and the directive line.
func completions(t *testing.T, d *testdaemon.Daemon, args ...string) (values, descs []string, directive string) {
	t.Helper()
	out, errOut, code := d.Backupctl(context.Background(), append([]string{"__complete"}, args...)...)
	if code != 0 {
		t.Fatalf("__complete %v: exit %d: %s", args, code, errOut)
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	for _, l := range lines[:len(lines)-1] {
		v, desc, _ := strings.Cut(l, "\t")
		values, descs = append(values, v), append(descs, desc)
	}
	return values, descs, lines[len(lines)-1]
}

// Completions ask the server: source names, backup ids newest first with
// their source and status, and statuses.
func TestCompletionsAskTheServer(t *testing.T) {
	d := testdaemon.Start(t, testdaemon.Options{Config: `
sources:
  docs: {kind: command, command: ["echo", "docs"], schedule: "@daily"}
  boom: {kind: command, command: ["false"]}
`})
	runBackup(t, d, "docs")
	boom, _ := d.Client().CreateBackup(context.Background(), "boom")
	d.WaitBackup(boom.ID)
	runBackup(t, d, "docs")

	values, descs, dir := completions(t, d, "run", "")
	if got := strings.Join(values, " "); got != "boom catalog docs" {
		t.Errorf("run: %q, want the sources", got)
	}
	if descs[2] != "command, @daily" || dir != ":36" { // NoFileComp | KeepOrder
		t.Errorf("run: descriptions %q, directive %s", descs, dir)
	}
	if values, _, _ := completions(t, d, "list", "--source", ""); len(values) != 3 {
		t.Errorf("list --source: %q", values)
	}
	if values, _, _ := completions(t, d, "list", "--status", ""); strings.Join(values, " ") != "queued running succeeded failed canceled" {
		t.Errorf("list --status: %q", values)
	}

	values, descs, _ = completions(t, d, "status", "")
	if strings.Join(values, " ") != "3 2 1" || !strings.HasPrefix(descs[0], "docs succeeded ") || !strings.HasPrefix(descs[1], "boom failed ") {
		t.Errorf("status: %q %q, want every id newest first, with source and status", values, descs)
	}
	if values, _, _ := completions(t, d, "download", ""); strings.Join(values, " ") != "3 1" {
		t.Errorf("download: %q, want the succeeded ones", values)
	}
	for _, cmd := range []string{"restore", "verify"} {
		if values, _, _ := completions(t, d, cmd, ""); strings.Join(values, " ") != "3 1" {
			t.Errorf("%s: %q, want the succeeded ones", cmd, values)
		}
	}
	if values, _, _ := completions(t, d, "cancel", ""); len(values) != 0 {
		t.Errorf("cancel with nothing active: %q", values)
	}
	if values, _, _ := completions(t, d, "status", "3", ""); len(values) != 0 {
		t.Errorf("status after its ID: %q", values)
	}
	// No server: no suggestions, and no error in the shell.
	if values, _, _ := completions(t, d, "--server", "http://127.0.0.1:1", "run", ""); len(values) != 0 {
		t.Errorf("run without a server: %q", values)
	}
}
