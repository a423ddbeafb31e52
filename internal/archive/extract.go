package archive

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"time"
)

// Extract unpacks the archive read from r into dir, creating dir if
// needed, and returns its manifest. Each stream is reassembled into one
// file named as the stream. Names that are absolute, contain "..", or lead
// through a symlink or out of dir are refused. Every file and stream is
// checked against the manifest's size and SHA-256; on any error, what was
// already written stays in dir and must not be trusted.
func Extract(ctx context.Context, r io.Reader, dir string) (Manifest, error) {
	return ExtractWith(ctx, r, dir, ExtractOptions{})
}

func newExtractor(dir string) (*extractor, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create extract dir: %w", err)
	}
	// os.Root refuses any path that resolves outside dir, including through
	// symlinks; the kinds map below adds that nothing is ever written
	// through a symlink at all, even one pointing inside dir.
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("open extract dir: %w", err)
	}
	return &extractor{root: root, kinds: make(map[string]byte), buf: make([]byte, 256<<10)}, nil
}

type extractor struct {
	root  *os.Root
	kinds map[string]byte // what this extraction made at each path: 'd', 'f', 'l'
	dirs  []dirAttr
	buf   []byte

	stream     *os.File // the stream being reassembled
	streamName string
}

type dirAttr struct {
	name    string
	mode    fs.FileMode
	modTime time.Time
}

func (x *extractor) dir(name string, hdr *tar.Header) error {
	if err := x.mkdir(name, name); err != nil {
		return err
	}
	x.dirs = append(x.dirs, dirAttr{name, fs.FileMode(hdr.Mode) & fs.ModePerm, hdr.ModTime})
	return nil
}

func (x *extractor) symlink(name string, hdr *tar.Header) error {
	if err := x.parent(name); err != nil {
		return err
	}
	if err := x.root.Symlink(hdr.Linkname, name); err != nil {
		return fmt.Errorf("create symlink: %w", err)
	}
	x.kinds[name] = 'l'
	if err := lchtimes(x.root, name, hdr.ModTime); err != nil {
		return fmt.Errorf("set mtime of symlink %s: %w", name, err)
	}
	return nil
}

func (x *extractor) file(name string, hdr *tar.Header, r io.Reader) error {
	f, err := x.create(name)
	if err != nil {
		return err
	}
	if _, err := io.CopyBuffer(onlyWriter{f}, r, x.buf); err != nil {
		f.Close()
		return fmt.Errorf("extract %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", name, err)
	}
	if err := x.root.Chmod(name, fs.FileMode(hdr.Mode)&fs.ModePerm); err != nil {
		return fmt.Errorf("set mode of %s: %w", name, err)
	}
	if err := x.root.Chtimes(name, hdr.ModTime, hdr.ModTime); err != nil {
		return fmt.Errorf("set mtime of %s: %w", name, err)
	}
	return nil
}

func (x *extractor) streamPart(name string, i int, r io.Reader) error {
	if i == 0 {
		if err := x.closeStream(); err != nil {
			return err
		}
		f, err := x.create(name)
		if err != nil {
			return err
		}
		x.stream, x.streamName = f, name
	}
	if _, err := io.CopyBuffer(onlyWriter{x.stream}, r, x.buf); err != nil {
		return fmt.Errorf("extract %s: %w", name, err)
	}
	return nil
}

func (x *extractor) closeStream() error {
	if x.stream == nil {
		return nil
	}
	err := x.stream.Close()
	x.stream = nil
	if err != nil {
		return fmt.Errorf("close %s: %w", x.streamName, err)
	}
	return nil
}

// finish gives streams and directories their modes and mtimes, deepest
// directory first: writing into a directory changes its mtime, and a
// read-only mode would stop the writes.
func (x *extractor) finish(m Manifest) error {
	if err := x.closeStream(); err != nil {
		return err
	}
	for _, e := range m.Entries {
		if e.Type != TypeStream {
			continue
		}
		if err := x.root.Chmod(e.Name, fs.FileMode(e.Mode)&fs.ModePerm); err != nil {
			return fmt.Errorf("set mode of %s: %w", e.Name, err)
		}
		if err := x.root.Chtimes(e.Name, e.ModTime, e.ModTime); err != nil {
			return fmt.Errorf("set mtime of %s: %w", e.Name, err)
		}
	}
	slices.SortStableFunc(x.dirs, func(a, b dirAttr) int {
		return strings.Count(b.name, "/") - strings.Count(a.name, "/")
	})
	for _, d := range x.dirs {
		if err := x.root.Chmod(d.name, d.mode); err != nil {
			return fmt.Errorf("set mode of %s: %w", d.name, err)
		}
		if err := x.root.Chtimes(d.name, d.modTime, d.modTime); err != nil {
			return fmt.Errorf("set mtime of %s: %w", d.name, err)
		}
	}
	return nil
}

// create makes a new file; O_EXCL means an existing path, a symlink
// included, is never written through.
func (x *extractor) create(name string) (*os.File, error) {
	if err := x.parent(name); err != nil {
		return nil, err
	}
	f, err := x.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create file: %w", err)
	}
	x.kinds[name] = 'f'
	return f, nil
}

// parent makes sure every directory above name exists and is a real
// directory, creating missing ones.
func (x *extractor) parent(name string) error {
	p := path.Dir(name)
	if p == "." || x.kinds[p] == 'd' {
		return nil
	}
	return x.mkdir(p, name)
}

// mkdir creates name and its missing parents for entry. A component that this
// extraction made as a file or symlink, or that already exists as anything
// but a directory, stops it.
func (x *extractor) mkdir(name, entry string) error {
	parts := strings.Split(name, "/")
	for i := range parts {
		p := strings.Join(parts[:i+1], "/")
		switch x.kinds[p] {
		case 'd':
			continue
		case 'f', 'l':
			return fmt.Errorf("archive entry %s would be written through %s, which is not a directory: refusing it", entry, p)
		}
		err := x.root.Mkdir(p, 0o700)
		if errors.Is(err, fs.ErrExist) {
			fi, serr := x.root.Lstat(p)
			if serr != nil || !fi.IsDir() {
				return fmt.Errorf("archive entry %s would be written through existing %s, which is not a directory: refusing it", entry, p)
			}
			err = nil
		}
		if err != nil {
			return fmt.Errorf("create dir: %w", err)
		}
		x.kinds[p] = 'd'
	}
	return nil
}

// onlyWriter hides *os.File's ReadFrom so CopyBuffer uses our buffer.
type onlyWriter struct{ w io.Writer }

func (o onlyWriter) Write(b []byte) (int, error) { return o.w.Write(b) }
