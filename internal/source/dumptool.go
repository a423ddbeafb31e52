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
// (to notice when the dump has begun). A non-zero exit is a *toolError.
func streamTool(ctx context.Context, a Archive, name string, argv, env []string, wrap func(io.Reader) io.Reader) error {
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := exec.CommandContext(runCtx, argv[0], argv[1:]...)
	cmd.Env = env
	// The same care as the command source: own process group, killed
	// whole on cancel, and an io.Pipe so Wait closes our end.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = waitDelay
	stderr := &tail{max: StderrTail}
	cmd.Stderr = stderr
	pr, pw := io.Pipe()
	cmd.Stdout = pw
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	waited := make(chan error, 1)
	go func() {
		err := cmd.Wait()
		pw.Close()
		waited <- err
	}()
	var r io.Reader = pr
	if wrap != nil {
		r = wrap(pr)
	}
	addErr := a.AddStream(name, r)
	if addErr != nil {
		pr.CloseWithError(addErr)
		cancel()
	}
	waitErr := <-waited
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

// markerReader calls found once, the first time the stream contains one of
// markers or ends. Markers are matched within one read or across the seam
// of two.
type markerReader struct {
	r       io.Reader
	markers []string
	found   func()
	done    bool
	carry   []byte
}

func (m *markerReader) Read(b []byte) (int, error) {
	n, err := m.r.Read(b)
	if m.done {
		return n, err
	}
	if n > 0 {
		buf := append(m.carry, b[:n]...)
		for _, mk := range m.markers {
			if strings.Contains(string(buf), mk) {
				m.fire()
				return n, err
			}
		}
		keep := min(len(buf), 64)
		m.carry = append(m.carry[:0], buf[len(buf)-keep:]...)
	}
	if err != nil {
		m.fire()
	}
	return n, err
}

func (m *markerReader) fire() {
	m.done, m.carry = true, nil
	m.found()
}
