package source

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/backupd/backupd/internal/config"
	"github.com/backupd/backupd/internal/domain"
)

// Command dumps the standard output of a command, run without a shell, as
// the stream "stdout". A non-zero exit fails the dump with the exit status
// and the last StderrTail bytes of its standard error.
type Command struct {
	name string
	argv []string
}

// StderrTail is how much of a command's standard error is kept for the
// error message.
const StderrTail = 4 << 10

// waitDelay is how long we wait, after the command exits or is killed, for
// its output pipes to close: a child it left behind may hold them open.
var waitDelay = 5 * time.Second

func newCommand(name string, cfg config.Source) (*Command, error) {
	if len(cfg.Command) == 0 || cfg.Command[0] == "" {
		return nil, domain.Errorf(domain.EINVALID, "source %s: command is required", name)
	}
	return &Command{name: name, argv: cfg.Command}, nil
}

// Kind implements Source.
func (c *Command) Kind() string { return config.KindCommand }

// Dump implements Source.
func (c *Command) Dump(ctx context.Context, a Archive, env Env) error {
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := exec.CommandContext(runCtx, c.argv[0], c.argv[1:]...)
	// Its own process group, so that cancel kills the whole pipeline the
	// command may have started, not just its first process.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = waitDelay
	stderr := &tail{max: StderrTail}
	cmd.Stderr = stderr
	addErr, waitErr, err := streamStdout(cancel, cmd, a, "stdout", nil)
	if err != nil {
		return fmt.Errorf("command %s: %w", c.argv[0], err)
	}
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("command %s: %w", c.argv[0], ctx.Err())
	case addErr != nil:
		return fmt.Errorf("archive output of %s: %w", c.argv[0], addErr)
	case waitErr != nil:
		return c.exitError(waitErr, stderr.String())
	}
	return nil
}

func (c *Command) exitError(err error, stderr string) error {
	var ee *exec.ExitError
	msg := err.Error()
	if errors.As(err, &ee) {
		msg = ee.ProcessState.String() // "exit status 2", "signal: killed"
	}
	if stderr = strings.TrimSpace(stderr); stderr != "" {
		return fmt.Errorf("command %s failed: %s; stderr: %s", c.argv[0], msg, stderr)
	}
	return fmt.Errorf("command %s failed: %s (no stderr)", c.argv[0], msg)
}

// tail keeps the last max bytes written to it.
type tail struct {
	mu  sync.Mutex
	max int
	buf []byte
	cut bool
}

func (t *tail) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, b...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
		t.cut = true
	}
	return len(b), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.cut {
		return "..." + string(t.buf)
	}
	return string(t.buf)
}
