package source

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/backupd/backupd/internal/archive"
	"github.com/backupd/backupd/internal/config"
	"github.com/backupd/backupd/internal/testenv"
)

func TestCommandStdout(t *testing.T) {
	payload := filepath.Join(t.TempDir(), "payload")
	b := make([]byte, 10<<20+123)
	rand.Read(b)
	writeFile(t, payload, b, 0o644)

	data, err := dump(t, newSource(t, config.Source{Kind: "command", Command: []string{"cat", payload}}))
	if err != nil {
		t.Fatal(err)
	}
	got := extractStdout(t, data)
	if !bytes.Equal(got, b) {
		t.Errorf("stdout differs: %d bytes, want %d", len(got), len(b))
	}
}

func TestCommandFails(t *testing.T) {
	script := `for i in $(seq 1 2000); do echo "noise line $i" >&2; done; echo "fatal: disk on fire" >&2; exit 3`
	_, err := dump(t, newSource(t, config.Source{Kind: "command", Command: []string{"sh", "-c", script}}))
	if err == nil {
		t.Fatal("dump succeeded")
	}
	for _, want := range []string{"exit status 3", "fatal: disk on fire"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not contain %q", want)
		}
	}
	if len(err.Error()) > StderrTail+200 {
		t.Errorf("error is %d bytes long: the stderr tail is not bounded", len(err.Error()))
	}
}

func TestCommandCancelKillsGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	src := newSource(t, config.Source{Kind: "command", Command: []string{"sh", "-c", `sleep 100 & echo $! > ` + pidFile + `; wait`}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	w, err := archive.NewWriter(&bytes.Buffer{}, archive.Meta{}, archive.Options{})
	if err != nil {
		t.Fatal(err)
	}
	go func() { done <- src.Dump(ctx, w, Env{TempDir: t.TempDir()}) }()

	var pid int
	for deadline := time.Now().Add(testenv.WaitTimeout); pid == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the command never wrote its child's pid")
		}
		b, _ := os.ReadFile(pidFile)
		pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := testenv.Recv(t, done, "the canceled dump to return"); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	// The sleep was a grandchild in the command's group: it must be gone
	// (or a zombie waiting for init), not left running.
	deadline := time.Now().Add(10 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("child %d still running after cancel", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// extractStdout unpacks a command source's archive and returns its stdout
// stream.
func extractStdout(t *testing.T, data []byte) []byte {
	t.Helper()
	dst, _ := extract(t, data)
	got, err := os.ReadFile(filepath.Join(dst, "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// alive reports whether pid runs and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	return len(f) > 0 && f[0] != "Z"
}

// A process that leaves the command's group and keeps its stdout open must
// not hold the backup past waitDelay once the command itself has exited.
func TestCommandStdoutHeldByEscapedChild(t *testing.T) {
	old := waitDelay
	waitDelay = 300 * time.Millisecond
	t.Cleanup(func() { waitDelay = old })
	pidFile := filepath.Join(t.TempDir(), "pid")
	// setsid puts the sleep in a session of its own, out of reach of the
	// group kill; it inherits stdout and never writes to it.
	src := newSource(t, config.Source{Kind: "command", Command: []string{"sh", "-c",
		`echo partial; setsid sleep 30 & echo $! > ` + pidFile}})
	start := time.Now()
	_, err := dump(t, src)
	elapsed := time.Since(start)
	if b, rerr := os.ReadFile(pidFile); rerr == nil {
		if pid, _ := strconv.Atoi(strings.TrimSpace(string(b))); pid > 0 {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	if !errors.Is(err, errStdoutHeld) && (err == nil || !strings.Contains(err.Error(), errStdoutHeld.Error())) {
		t.Fatalf("err = %v, want %v", err, errStdoutHeld)
	}
	if elapsed > 10*time.Second {
		t.Errorf("dump took %s: the held stdout was waited on, not bounded by waitDelay", elapsed)
	}
}

// A producer writing in small pieces, slower than the reader, is read in
// paced reads and still arrives whole and in order.
func TestCommandSlowSmallWrites(t *testing.T) {
	script := `i=0; while [ $i -lt 3000 ]; do printf '%05d:0123456789abcdef0123456789abcdef\n' $i; i=$((i+1)); done`
	data, err := dump(t, newSource(t, config.Source{Kind: "command", Command: []string{"sh", "-c", script}}))
	if err != nil {
		t.Fatal(err)
	}
	got := extractStdout(t, data)
	var want bytes.Buffer
	for i := range 3000 {
		fmt.Fprintf(&want, "%05d:0123456789abcdef0123456789abcdef\n", i)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Errorf("stdout differs: %d bytes, want %d", len(got), want.Len())
	}
}
