package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
)

// faults collects the paths a files dump could not read.
type faults struct {
	paths []string
	n     int
}

// maxFaults is how many paths the error names; the rest are counted.
const maxFaults = 5

func (f *faults) add(rel string, err error) {
	f.n++
	if len(f.paths) < maxFaults {
		f.paths = append(f.paths, fmt.Sprintf("%s (%s)", rel, reason(err)))
	}
}

func (f *faults) err() error {
	if f.n == 0 {
		return nil
	}
	msg := strings.Join(f.paths, ", ")
	if f.n > len(f.paths) {
		msg += fmt.Sprintf(" and %d more", f.n-len(f.paths))
	}
	return fmt.Errorf("%d path(s) could not be read, so the backup is incomplete: %s", f.n, msg)
}

// reason is the short cause of a read fault, without the path that the
// caller already names.
func reason(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "vanished while being read"
	case errors.Is(err, fs.ErrPermission):
		return "permission denied"
	}
	return err.Error()
}

// ctxReader stops a long read once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(b []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(b)
}
