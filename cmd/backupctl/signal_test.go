package main_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/backupd/backupd/internal/domain"
	"github.com/backupd/backupd/internal/testdaemon"
)

// Ctrl-C stops run --wait with exit 130 and the backup goes on; SIGTERM
// stops tail with 143.
func TestSignalsExit130And143(t *testing.T) {
	d := testdaemon.Start(t, testdaemon.Options{Config: slowSource})
	_, ctl := testdaemon.Binaries(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	cmd := exec.CommandContext(ctx, ctl, "--server", d.URL, "run", "slow", "--wait")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "backupctl's backup to run", func() bool {
		list, _, err := d.Client().Backups(ctx, domain.BackupFilter{Source: "slow"})
		return err == nil && len(list) == 1 && list[0].BytesDone > 0
	})
	list, _, _ := d.Client().Backups(ctx, domain.BackupFilter{Source: "slow"})
	cmd.Process.Signal(syscall.SIGINT)
	if code := exitCode(t, cmd.Wait()); code != 130 {
		t.Fatalf("run --wait after SIGINT: exit %d, want 130; stderr %q", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "stopped waiting; backup "+itoa(list[0].ID)+" goes on") || !strings.Contains(stderr.String(), "SIGINT") {
		t.Errorf("stderr = %q", stderr.String())
	}
	if b, err := d.Client().Backup(ctx, list[0].ID); err != nil || b.Status != "running" {
		t.Errorf("the backup after SIGINT: %+v, %v; want it still running", b, err)
	}

	tail := exec.CommandContext(ctx, ctl, "--server", d.URL, "tail", "--since", "0", "-o", "json")
	stdout, err := tail.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := tail.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	if !sc.Scan() || !json.Valid(sc.Bytes()) {
		t.Fatalf("tail printed no event: %v", sc.Err())
	}
	tail.Process.Signal(syscall.SIGTERM)
	for sc.Scan() {
	}
	if code := exitCode(t, tail.Wait()); code != 143 {
		t.Fatalf("tail after SIGTERM: exit %d, want 143", code)
	}
}

func exitCode(t *testing.T, err error) int {
	t.Helper()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0
}
