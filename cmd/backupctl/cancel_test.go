package main_test

import (
	"context"
	"strings"
	"testing"

	"github.com/backupd/backupd/internal/domain"
	"github.com/backupd/backupd/internal/testdaemon"
)

// slowSource writes 10 MiB and then waits: more than the largest chunk
// (8 MiB), so the repository cuts one while the command still runs and
// bytes_done moves.
const slowSource = `
shutdown_grace: 1s
sources:
  slow:
    kind: command
    command: ["sh", "-c", "head -c 10485760 /dev/urandom; exec sleep 120"]
`

func waitRunning(t *testing.T, d *testdaemon.Daemon, id int64) {
	t.Helper()
	waitFor(t, "the backup to run", func() bool {
		b, err := d.Client().Backup(context.Background(), id)
		return err == nil && b.Status == domain.StatusRunning && b.BytesDone > 0
	})
}

func TestCancelRunningBackup(t *testing.T) {
	d := testdaemon.Start(t, testdaemon.Options{Config: slowSource})
	ctx := context.Background()
	b, err := d.Client().CreateBackup(ctx, "slow")
	if err != nil {
		t.Fatal(err)
	}
	// A second request for the same source is refused, naming the first.
	_, errOut, code := d.Backupctl(ctx, "run", "slow")
	if code != 1 || !strings.Contains(errOut, "already active (backup "+itoa(b.ID)+")") {
		t.Fatalf("second run: exit %d, %s", code, errOut)
	}
	waitRunning(t, d, b.ID)
	if out, errOut, code := d.Backupctl(ctx, "cancel", itoa(b.ID)); code != 0 {
		t.Fatalf("cancel: exit %d %s %s", code, out, errOut)
	}
	got := d.WaitBackup(b.ID)
	if got.Status != domain.StatusCanceled {
		t.Fatalf("after cancel: %+v", got)
	}
	noSnapshot(t, d, got)
	// Canceling again is a conflict that says why.
	if _, errOut, code := d.Backupctl(ctx, "cancel", itoa(b.ID)); code != 1 || !strings.Contains(errOut, "already canceled") {
		t.Fatalf("second cancel: exit %d, %s", code, errOut)
	}
}

// SIGTERM lets running backups finish within shutdown_grace, then records
// the ones still running as failed; nothing is left that looks complete:
// no snapshot, no export, no archive.
func TestShutdownGraceThenFailed(t *testing.T) {
	d := testdaemon.Start(t, testdaemon.Options{Config: slowSource})
	ctx := context.Background()
	b, err := d.Client().CreateBackup(ctx, "slow")
	if err != nil {
		t.Fatal(err)
	}
	waitRunning(t, d, b.ID)
	d.Stop()
	d.Restart()
	got, err := d.Client().Backup(ctx, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != domain.StatusFailed || !strings.Contains(got.Error, "shut down") {
		t.Fatalf("after a shutdown past the grace period: %s %q", got.Status, got.Error)
	}
	noSnapshot(t, d, got)
}
