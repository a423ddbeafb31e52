package archive

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
)

// ExtractStream reads the archive from r and writes the content of the
// stream called name (its parts, in order) to w, as they arrive: a dump
// goes to pg_restore's or mariadb's stdin without a file in between. It
// closes w once the stream's last part is written, so that a tool reading
// it sees the end while the rest of the archive is read; on an error the
// caller closes w. Every entry is checked against the manifest as Extract
// does; since the manifest comes last, w has received the whole stream
// before the check can fail, and a caller must treat what w did with it
// as unverified until ExtractStream returns nil.
func ExtractStream(ctx context.Context, r io.Reader, name string, w io.WriteCloser) (Manifest, error) {
	s := &streamTo{name: name, w: w, buf: make([]byte, 256<<10)}
	m, err := scan(ctx, r, s)
	if err != nil {
		return m, err
	}
	if !s.found {
		return m, fmt.Errorf("the archive has no stream %s", name)
	}
	return m, s.err
}

// streamTo is the sink of ExtractStream.
type streamTo struct {
	name          string
	w             io.WriteCloser
	buf           []byte
	found, closed bool
	err           error // of closing w
}

// end closes w once the stream is over: at the first entry after it.
func (s *streamTo) end() {
	if s.found && !s.closed {
		s.closed = true
		s.err = s.w.Close()
	}
}

func (s *streamTo) dir(string, *tar.Header) error             { s.end(); return nil }
func (s *streamTo) symlink(string, *tar.Header) error         { s.end(); return nil }
func (s *streamTo) file(string, *tar.Header, io.Reader) error { s.end(); return nil }
func (s *streamTo) finish(Manifest) error                     { s.end(); return s.err }

func (s *streamTo) streamPart(name string, _ int, r io.Reader) error {
	if name != s.name {
		s.end()
		return nil
	}
	s.found = true
	if _, err := io.CopyBuffer(onlyWriter{s.w}, r, s.buf); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}
