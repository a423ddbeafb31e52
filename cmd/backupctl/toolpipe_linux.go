package main

import (
	"os"

	"golang.org/x/sys/unix"
)

// toolPipe is a pipe for a restore tool's stdin, both ends blocking and
// so out of Go's poller, as the daemon's pipes from dump tools (see
// internal/source/pipe_linux.go), with room for 1 MiB when the system
// allows: the tool is not woken for every 64 KiB.
func toolPipe() (r, w *os.File, err error) {
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_CLOEXEC); err != nil {
		return nil, nil, err
	}
	unix.FcntlInt(uintptr(fds[1]), unix.F_SETPIPE_SZ, 1<<20)
	return os.NewFile(uintptr(fds[0]), "|0"), os.NewFile(uintptr(fds[1]), "|1"), nil
}
