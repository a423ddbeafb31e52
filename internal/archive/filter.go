package archive

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
)

// ExtractOptions choose what ExtractWith writes.
type ExtractOptions struct {
	// Paths, if not empty, extracts only these entries and what is below
	// them: a file, a stream, or a directory's subtree. Directories above
	// them are created as needed (mode 0700). Every other entry is still
	// read and checked against the manifest, so the archive as a whole is
	// verified either way.
	Paths []string
}

// CleanPaths turns paths given by a person ("dir/", "/etc/app.conf",
// "./a") into archive entry names; "" or "." stands for everything and
// makes the list empty. A path with ".." is refused.
func CleanPaths(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		c := strings.Trim(path.Clean("/"+p), "/")
		if strings.Contains("/"+p+"/", "/../") {
			return nil, fmt.Errorf("path %q goes up with ..: name a path inside the backup", p)
		}
		if c == "" {
			return nil, nil
		}
		out = append(out, c)
	}
	return out, nil
}

// ExtractWith is Extract with options: with opt.Paths, only those
// entries are written.
func ExtractWith(ctx context.Context, r io.Reader, dir string, opt ExtractOptions) (Manifest, error) {
	paths, err := CleanPaths(opt.Paths)
	if err != nil {
		return Manifest{}, err
	}
	x, err := newExtractor(dir)
	if err != nil {
		return Manifest{}, err
	}
	defer x.root.Close()
	defer x.closeStream()
	if len(paths) == 0 {
		return scan(ctx, r, x)
	}
	return scan(ctx, r, filtered{x, paths})
}

// Selected reports whether name is one of paths or below one of them;
// every name is when paths is empty.
func Selected(name string, paths []string) bool {
	return len(paths) == 0 || slices.ContainsFunc(paths, func(p string) bool {
		return name == p || strings.HasPrefix(name, p+"/")
	})
}

// filtered hands on to the extractor only the entries selected by paths;
// scan drains and checks the others.
type filtered struct {
	x     *extractor
	paths []string
}

func (f filtered) dir(name string, hdr *tar.Header) error {
	if !Selected(name, f.paths) {
		return nil
	}
	return f.x.dir(name, hdr)
}

func (f filtered) symlink(name string, hdr *tar.Header) error {
	if !Selected(name, f.paths) {
		return nil
	}
	return f.x.symlink(name, hdr)
}

func (f filtered) file(name string, hdr *tar.Header, r io.Reader) error {
	if !Selected(name, f.paths) {
		return nil
	}
	return f.x.file(name, hdr, r)
}

func (f filtered) streamPart(name string, i int, r io.Reader) error {
	if !Selected(name, f.paths) {
		return nil
	}
	return f.x.streamPart(name, i, r)
}

// finish sets the modes and times of what was extracted only.
func (f filtered) finish(m Manifest) error {
	m.Entries = slices.DeleteFunc(slices.Clone(m.Entries), func(e Entry) bool { return !Selected(e.Name, f.paths) })
	return f.x.finish(m)
}
