package lockfile_test

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/backupd/backupd/internal/lockfile"
)

func TestSecondHolderRefused(t *testing.T) {
	dir := t.TempDir()
	l, err := lockfile.Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	// flock locks belong to open files, so a second open in the same
	// process is refused like another process would be.
	_, err = lockfile.Acquire(dir)
	if err == nil {
		t.Fatal("second Acquire succeeded while the lock was held")
	}
	for _, want := range []string{dir, "PID " + strconv.Itoa(os.Getpid())} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	b, _ := os.ReadFile(filepath.Join(dir, lockfile.Name))
	if got := strings.TrimSpace(string(b)); got != strconv.Itoa(os.Getpid()) {
		t.Errorf("the refused attempt changed the lock file to %q", got)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	l2, err := lockfile.Acquire(dir)
	if err != nil {
		t.Fatalf("after Release: %v", err)
	}
	l2.Release()
}

// TestLockDiesWithProcess: a holder killed with SIGKILL leaves no lock
// behind, and while it lives another process is refused with its PID.
func TestLockDiesWithProcess(t *testing.T) {
	if dir := os.Getenv("LOCKFILE_TEST_HOLD"); dir != "" {
		if _, err := lockfile.Acquire(dir); err != nil {
			os.Exit(3)
		}
		os.Stdout.WriteString("locked\n")
		time.Sleep(time.Minute)
		os.Exit(0)
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockDiesWithProcess$")
	cmd.Env = append(os.Environ(), "LOCKFILE_TEST_HOLD="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line := make(chan string, 1)
	go func() {
		b := make([]byte, 7)
		n, _ := io.ReadFull(out, b)
		line <- string(b[:n])
	}()
	select {
	case got := <-line:
		if got != "locked\n" {
			t.Fatalf("holder said %q, want locked", got)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the holder did not take the lock within 60s")
	}
	_, err = lockfile.Acquire(dir)
	if err == nil || !strings.Contains(err.Error(), "PID "+strconv.Itoa(cmd.Process.Pid)) {
		t.Fatalf("while another process holds it: %v, want an error naming PID %d", err, cmd.Process.Pid)
	}
	cmd.Process.Kill()
	cmd.Wait()
	l, err := lockfile.Acquire(dir)
	if err != nil {
		t.Fatalf("after the holder was killed: %v", err)
	}
	l.Release()
}
