package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// backupd man DIR (make man) writes a page per command.
func TestManPages(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "man")
	if _, err := runCmd(t, "man", dir); err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(filepath.Join(dir, "backupd-config-check.1"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(page), `.TH "BACKUPD-CONFIG-CHECK" "1"`) || !strings.Contains(string(page), "backupd config check") {
		t.Errorf("backupd-config-check.1:\n%s", page)
	}
	if _, err := os.Stat(filepath.Join(dir, "backupd-man.1")); err == nil {
		t.Error("the hidden man command has a page of its own")
	}
}
