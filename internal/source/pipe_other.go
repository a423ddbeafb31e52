//go:build !linux

package source

import "os"

// newStdoutPipe returns an os.Pipe; its read end waits in Go's poller.
func newStdoutPipe() (stdoutPipe, *os.File, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, nil, err
	}
	return r, w, nil
}
