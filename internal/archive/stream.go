package archive

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
)

// ExtractStream reads the archive from r and writes the content of the
// stream called name (its parts, in order) to w, as they arrive: a dump
// goes to pg_restore's or mariadb's stdin without a file in between.
// Every entry is checked against the manifest as Extract does; since the
// manifest comes last, w has received the whole stream before the check
// can fail, and a caller must treat what w did with it as unverified
// until ExtractStream returns nil.
func ExtractStream(ctx context.Context, r io.Reader, name string, w io.Writer) (Manifest, error) {
	s := &streamTo{name: name, w: w, buf: make([]byte, 256<<10)}
	m, err := scan(ctx, r, s)
	if err != nil {
		return m, err
	}
	if !s.found {
		return m, fmt.Errorf("the archive has no stream %s", name)
	}
	return m, nil
}

// streamTo is the sink of ExtractStream.
type streamTo struct {
	name  string
	w     io.Writer
	buf   []byte
	found bool
}

func (streamTo) dir(string, *tar.Header) error             { return nil }
func (streamTo) symlink(string, *tar.Header) error         { return nil }
func (streamTo) file(string, *tar.Header, io.Reader) error { return nil }
func (streamTo) finish(Manifest) error                     { return nil }

func (s *streamTo) streamPart(name string, _ int, r io.Reader) error {
	if name != s.name {
		return nil
	}
	s.found = true
	if _, err := io.CopyBuffer(onlyWriter{s.w}, r, s.buf); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}
