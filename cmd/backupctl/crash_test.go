package main_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/backupd/backupd/internal/domain"
	"github.com/backupd/backupd/internal/testdaemon"
)

// A daemon killed (SIGKILL) mid-backup marks that backup failed/interrupted
// at the next start and leaves nothing that could pass for a good backup:
// the packs it had stored belong to no snapshot, and it has no export.
func TestKilledBackupIsInterruptedAfterRestart(t *testing.T) {
	// 32 MiB and then a wait: more than a pack (16 MiB) reaches the
	// repository while the backup runs.
	d := testdaemon.Start(t, testdaemon.Options{Config: `
sources:
  slow:
    kind: command
    command: ["sh", "-c", "head -c 33554432 /dev/urandom; exec sleep 120"]
`})
	ctx := context.Background()
	b, err := d.Client().CreateBackup(ctx, "slow")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the backup to run and store a pack in the repository", func() bool {
		cur, err := d.Client().Backup(ctx, b.ID)
		return err == nil && cur.Status == domain.StatusRunning && len(packs(t, d)) > 0
	})
	if s := snapshots(t, d); len(s) != 0 {
		t.Fatalf("a snapshot %v is in the repository while the backup still runs", s)
	}
	d.Kill()
	d.Restart()

	got, err := d.Client().Backup(ctx, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != domain.StatusFailed || got.Error != domain.ErrInterrupted {
		t.Fatalf("after restart: status %s, error %q; want failed, %q", got.Status, got.Error, domain.ErrInterrupted)
	}
	noSnapshot(t, d, got)
	// The archive endpoint says why there is nothing to download.
	_, errOut, code := d.Backupctl(ctx, "download", itoa(b.ID), "-o", t.TempDir())
	if code != 1 || !strings.Contains(errOut, "only a succeeded backup has an archive") {
		t.Fatalf("download of an interrupted backup: exit %d, %s", code, errOut)
	}
	if e := exports(t, d); len(e) != 0 {
		t.Fatalf("the refused download built an export: %v", e)
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
