package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"time"
)

// errStdoutHeld is the archive error when the command exited but something
// it started kept its standard output open past waitDelay.
var errStdoutHeld = errors.New("the command exited, but a process it started kept its output open")

// stdoutPipe is the read end of a command's standard output.
type stdoutPipe interface {
	io.ReadCloser
	// SetReadDeadline makes a Read waiting past t fail with
	// os.ErrDeadlineExceeded; it may be called while a Read waits.
	SetReadDeadline(t time.Time) error
}

// streamStdout starts cmd with its standard output on an OS pipe and stores
// what it writes in a as the stream name, reading the pipe directly: no
// copying goroutine, no handoff per 32 KiB (an io.Pipe there cost a second
// of CPU per 400 MB in futex and scheduler calls). wrap, if set, sees the
// output on its way. It returns the archive's error and the command's.
//
// Once the command has exited, the read gets waitDelay more to reach EOF,
// so a child that escaped the process group and holds stdout cannot block
// the backup forever.
func streamStdout(cancel context.CancelFunc, cmd *exec.Cmd, a Archive, name string, wrap func(io.Reader) io.Reader) (addErr, waitErr error, err error) {
	pr, pw, err := newStdoutPipe()
	if err != nil {
		return nil, nil, fmt.Errorf("create pipe: %w", err)
	}
	defer pr.Close()
	cmd.Stdout = pw
	if err := cmd.Start(); err != nil {
		pw.Close()
		return nil, nil, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	pw.Close() // the child has its own copy; EOF comes when it closes it
	waited := make(chan error, 1)
	go func() {
		err := cmd.Wait()
		pr.SetReadDeadline(time.Now().Add(waitDelay))
		waited <- err
	}()
	var r io.Reader = pr
	if wrap != nil {
		r = wrap(pr)
	}
	addErr = a.AddStream(name, r)
	if addErr != nil {
		pr.Close() // a writer blocked on a full pipe gets EPIPE
		cancel()
		if errors.Is(addErr, os.ErrDeadlineExceeded) {
			addErr = errStdoutHeld
		}
	}
	return addErr, <-waited, nil
}
