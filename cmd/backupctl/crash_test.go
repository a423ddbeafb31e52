package main_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/backupd/backupd/internal/domain"
	"github.com/backupd/backupd/internal/testdaemon"
)

// A daemon killed (SIGKILL) mid-backup marks that backup failed/interrupted
// at the next start and leaves no archive that could pass for a good one.
func TestKilledBackupIsInterruptedAfterRestart(t *testing.T) {
	d := testdaemon.Start(t, testdaemon.Options{Config: `
sources:
  slow:
    kind: command
    command: ["sh", "-c", "head -c 1048576 /dev/urandom; exec sleep 120"]
`})
	ctx := context.Background()
	b, err := d.Client().CreateBackup(ctx, "slow")
	if err != nil {
		t.Fatal(err)
	}
	archives := filepath.Join(d.DataDir, "archives")
	waitFor(t, "the backup to run and write a partial archive", func() bool {
		cur, err := d.Client().Backup(ctx, b.ID)
		if err != nil || cur.Status != domain.StatusRunning {
			return false
		}
		entries, _ := os.ReadDir(archives)
		return len(entries) == 1 && strings.HasSuffix(entries[0].Name(), ".partial")
	})
	d.Kill()
	d.Restart()

	got, err := d.Client().Backup(ctx, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != domain.StatusFailed || got.Error != domain.ErrInterrupted {
		t.Fatalf("after restart: status %s, error %q; want failed, %q", got.Status, got.Error, domain.ErrInterrupted)
	}
	if got.Archive != "" || got.SHA256 != "" {
		t.Errorf("interrupted backup still names an archive: %+v", got)
	}
	entries, _ := os.ReadDir(archives)
	if len(entries) != 0 {
		t.Fatalf("files left in the archive dir: %v", entries)
	}
	// The archive endpoint says why there is nothing to download.
	_, errOut, code := d.Backupctl(ctx, "download", itoa(b.ID), "-o", t.TempDir())
	if code != 1 || !strings.Contains(errOut, "only a succeeded backup has an archive") {
		t.Fatalf("download of an interrupted backup: exit %d, %s", code, errOut)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
