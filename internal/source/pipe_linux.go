package source

import (
	"errors"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// newStdoutPipe returns a pipe for a dump tool's output, read in a way
// that costs the tool and the daemon as little as the archive allows.
//
// Measured with a 1.1 GB mariadb-dump, whose stdio writes 4 KiB at a time:
//
//   - The read end is a blocking descriptor kept out of Go's netpoller.
//     Registered there (os.Pipe), every write of the tool to the empty pipe
//     also runs an epoll callback and wakes the poller: 0.5 s more system
//     time in the tool, 0.7 s more CPU in the daemon, about 1 s of wall.
//   - The pipe holds pipeSize instead of 64 KiB, so the tool can run ahead.
//   - Reads are paced (see pipeReader.Read).
func newStdoutPipe() (stdoutPipe, *os.File, error) {
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_CLOEXEC); err != nil {
		return nil, nil, err
	}
	// Failing to grow (an unprivileged process over
	// /proc/sys/fs/pipe-max-size) only costs the saving, and the pacing,
	// which needs the room.
	size, err := unix.FcntlInt(uintptr(fds[0]), unix.F_SETPIPE_SZ, pipeSize)
	r := &pipeReader{fd: fds[0], paced: err == nil && size >= pipeSize}
	// A blocking descriptor: os.NewFile keeps it out of the poller, and the
	// child gets it as its stdout as is.
	return r, os.NewFile(uintptr(fds[1]), "|1"), nil
}

// pipeSize is the pipe buffer asked for: at the 200 MB/s a database dump
// tool writes, about 5 ms of its output.
const pipeSize = 1 << 20

// Pacing: after a read that found less than paceBelow waiting, the next
// waits paceNap for the output to pile up.
const (
	paceBelow = 128 << 10
	paceNap   = time.Millisecond
)

// pollSlice is how long one poll(2) waits before the deadline is checked
// again.
const pollSlice = 100 // ms

// pipeReader reads the read end of a pipe with poll(2) and read(2).
type pipeReader struct {
	fd       int
	paced    bool
	deadline atomic.Int64 // Unix ns; 0 for none
	napNext  bool         // Read's own; Read is not called concurrently

	closeOnce sync.Once
	closeErr  error
}

// Read waits for data, then reads what is there. A dump tool is slower
// than the archive writer, so a reader that keeps up finds the pipe empty
// each time and is woken by every write of the tool, some 270,000 times
// per GiB; that cost the tool its core and the daemon a second of CPU.
// Paced, a read that found little is followed by a nap of paceNap, and the
// next read takes the few hundred KiB that arrived meanwhile. The pipe
// cannot fill in that time below 1 GB/s, and a producer that fast makes
// every read a long one, so the reader never naps behind it.
func (p *pipeReader) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	if p.napNext {
		p.napNext = false
		time.Sleep(paceNap)
	}
	for {
		if err := p.wait(); err != nil {
			return 0, err
		}
		n, err := unix.Read(p.fd, b)
		if errors.Is(err, unix.EINTR) || errors.Is(err, unix.EAGAIN) {
			continue
		}
		if err != nil {
			return 0, &os.PathError{Op: "read", Path: "|0", Err: err}
		}
		if n == 0 {
			return 0, io.EOF
		}
		p.napNext = p.paced && n < paceBelow && len(b) >= paceBelow
		return n, nil
	}
}

// wait returns when the pipe can be read (data, EOF or an error) or the
// deadline has passed.
func (p *pipeReader) wait() error {
	fds := []unix.PollFd{{Fd: int32(p.fd), Events: unix.POLLIN}}
	for {
		if d := p.deadline.Load(); d != 0 && time.Now().UnixNano() >= d {
			return os.ErrDeadlineExceeded
		}
		n, err := unix.Poll(fds, pollSlice)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return &os.PathError{Op: "poll", Path: "|0", Err: err}
		}
		if n > 0 {
			return nil
		}
	}
}

// SetReadDeadline implements stdoutPipe; Read notices it within pollSlice.
func (p *pipeReader) SetReadDeadline(t time.Time) error {
	if t.IsZero() {
		p.deadline.Store(0)
		return nil
	}
	p.deadline.Store(t.UnixNano())
	return nil
}

// Close closes the read end; it must not be called while a Read runs.
func (p *pipeReader) Close() error {
	p.closeOnce.Do(func() { p.closeErr = unix.Close(p.fd) })
	return p.closeErr
}
