package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// backupctl man DIR (make man) writes a page per command, with its flags.
func TestManPages(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "man")
	a := &app{stdout: io.Discard, stderr: io.Discard}
	root := a.newRootCmd()
	root.SetArgs([]string{"man", dir})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(filepath.Join(dir, "backupctl-run.1"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`.TH "BACKUPCTL-RUN" "1"`, "backupctl run SOURCE", "--download", "exits 130"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("backupctl-run.1 lacks %q:\n%s", want, page)
		}
	}
	for _, name := range []string{"backupctl.1", "backupctl-endpoints-enable.1", "backupctl-list.1"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Error(err)
		}
	}
}
