package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

// toolError is a dump tool that exited badly, with the end of its stderr.
type toolError struct {
	tool   string
	status string // "exit status 1", "signal: killed"
	stderr string
}

func (e *toolError) Error() string {
	if e.stderr == "" {
		return fmt.Sprintf("%s failed: %s (no stderr)", e.tool, e.status)
	}
	return fmt.Sprintf("%s failed: %s; stderr: %s", e.tool, e.status, e.stderr)
}

// streamTool runs argv with env and stores its standard output in a as the stream
// name while it is produced: nothing is staged on disk, so a dump needs no
// free space beyond the archive. wrap, if set, sees the output on its way
// (to count rows). A non-zero exit is a *toolError.
func streamTool(ctx context.Context, a Archive, name string, argv, env []string, wrap func(io.Reader) io.Reader) error {
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := exec.CommandContext(runCtx, argv[0], argv[1:]...)
	cmd.Env = env
	// The same care as the command source: own process group, killed
	// whole on cancel.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = waitDelay
	stderr := &tail{max: StderrTail}
	cmd.Stderr = stderr
	addErr, waitErr, err := streamStdout(cancel, cmd, a, name, wrap)
	if err != nil {
		return err
	}
	tool := filepath.Base(argv[0])
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("%s: %w", tool, ctx.Err())
	case waitErr != nil:
		// Checked before addErr: a tool that failed closes its output
		// early, and its stderr says why far better than a short read.
		status := waitErr.Error()
		var ee *exec.ExitError
		if errors.As(waitErr, &ee) {
			status = ee.ProcessState.String()
		}
		return &toolError{tool: tool, status: status, stderr: strings.TrimSpace(stderr.String())}
	case addErr != nil:
		return fmt.Errorf("archive output of %s: %w", tool, addErr)
	}
	return nil
}
