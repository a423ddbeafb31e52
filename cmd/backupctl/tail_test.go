package main_test

import (
	"bufio"
	"context"
	"encoding/json"
	"os/exec"
	"testing"
	"time"

	"github.com/backupd/backupd/internal/domain"
	"github.com/backupd/backupd/internal/testdaemon"
	"github.com/backupd/backupd/internal/testenv"
)

// backupctl tail follows the daemon across a restart and prints every
// stored event once, in order: those committed before, while it was down
// (by another process), and after.
func TestTailAcrossRestartLosesNothing(t *testing.T) {
	sqlite3 := testenv.Command(t, "sqlite3")
	d := testdaemon.Start(t, testdaemon.Options{})
	_, ctl := testdaemon.Binaries(t)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, ctl, "--server", d.URL, "tail", "--since", "0", "-o", "json")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); cmd.Wait() }()
	events := make(chan domain.Event, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var ev domain.Event
			if json.Unmarshal(sc.Bytes(), &ev) == nil {
				events <- ev
			}
		}
		close(events)
	}()
	next := int64(1)
	expect := func(n int) {
		t.Helper()
		for i := 0; i < n; i++ {
			select {
			case ev, ok := <-events:
				if !ok {
					t.Fatal("tail exited")
				}
				if ev.ID != next {
					t.Fatalf("event id %d (%s), want %d: a gap or a repeat", ev.ID, ev.Type, next)
				}
				next++
			case <-time.After(30 * time.Second):
				t.Fatalf("timed out waiting for event %d", next)
			}
		}
	}

	runBackup(t, d, "catalog") // queued, started, succeeded
	expect(3)

	d.Stop()
	out, err := exec.Command(sqlite3, d.DataDir+"/catalog.db",
		`INSERT INTO events (type, source, time, data) VALUES ('report.received', 'offline', datetime('now'), '{}');`).CombinedOutput()
	if err != nil {
		t.Fatalf("sqlite3: %v %s", err, out)
	}
	d.Restart()
	runBackup(t, d, "catalog")
	expect(1 + 3)

	select {
	case ev := <-events:
		t.Fatalf("unexpected extra event %+v", ev)
	case <-time.After(300 * time.Millisecond):
	}
}
