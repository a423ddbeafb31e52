package source

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/backupd/backupd/internal/config"
	"github.com/backupd/backupd/internal/domain"
)

// Files dumps a directory tree: directories, regular files and symlinks
// (stored as links, never followed), with their modes and mtimes. Entry
// names are relative to the root, with "/" separators, in lexical order.
//
// Anything it cannot read (permission denied, vanished while walking, a
// pipe, socket or device) fails the dump with an error naming it: a
// partial tree is never a complete backup. Such paths can be excluded.
type Files struct {
	name    string
	root    string
	exclude []string
}

func newFiles(name string, cfg config.Source) (*Files, error) {
	if cfg.Path == "" {
		return nil, domain.Errorf(domain.EINVALID, "source %s: path is required", name)
	}
	for _, p := range cfg.Exclude {
		if _, err := path.Match(p, ""); err != nil {
			return nil, domain.Errorf(domain.EINVALID, "source %s: exclude pattern %q is malformed", name, p)
		}
	}
	return &Files{name: name, root: cfg.Path, exclude: cfg.Exclude}, nil
}

// Kind implements Source.
func (f *Files) Kind() string { return config.KindFiles }

// Dump implements Source.
func (f *Files) Dump(ctx context.Context, a Archive, env Env) error {
	// A root given as a symlink is followed, once: it is what the user named.
	root, err := filepath.EvalSymlinks(f.root)
	if errors.Is(err, fs.ErrNotExist) {
		return domain.Errorf(domain.ENOTFOUND, "source %s: %s does not exist", f.name, f.root)
	}
	if err != nil {
		return fmt.Errorf("resolve source path: %w", err)
	}
	if fi, err := os.Stat(root); err != nil {
		return fmt.Errorf("stat source path: %w", err)
	} else if !fi.IsDir() {
		return domain.Errorf(domain.EINVALID, "source %s: %s is not a directory", f.name, f.root)
	}
	w := &walker{ctx: ctx, a: a, root: root, exclude: f.exclude}
	if err := filepath.WalkDir(root, w.visit); err != nil {
		return err
	}
	return w.faults.err()
}

type walker struct {
	ctx     context.Context
	a       Archive
	root    string
	exclude []string
	faults  faults
}

func (w *walker) visit(p string, d fs.DirEntry, err error) error {
	if cerr := w.ctx.Err(); cerr != nil {
		return cerr
	}
	if p == w.root {
		return err // an unreadable root fails at once
	}
	rel, rerr := filepath.Rel(w.root, p)
	if rerr != nil {
		return fmt.Errorf("relative path: %w", rerr)
	}
	rel = filepath.ToSlash(rel)
	if w.excluded(rel) {
		if d != nil && d.IsDir() {
			return filepath.SkipDir
		}
		return nil
	}
	if err != nil {
		// WalkDir calls again for a directory it could not list, with d set;
		// either way the path is reported once and skipped.
		w.faults.add(rel, err)
		if d != nil && d.IsDir() {
			return filepath.SkipDir
		}
		return nil
	}
	fi, err := d.Info()
	if err != nil {
		w.faults.add(rel, err)
		return nil
	}
	switch {
	case fi.IsDir():
		return w.add(rel, fi, "", nil)
	case fi.Mode()&fs.ModeSymlink != 0:
		target, err := os.Readlink(p)
		if err != nil {
			w.faults.add(rel, err)
			return nil
		}
		return w.add(rel, fi, target, nil)
	case fi.Mode().IsRegular():
		if fa, ok := w.a.(FileAdder); ok {
			return w.addRegular(fa, p, rel, fi)
		}
		return w.addFile(p, rel)
	default:
		w.faults.add(rel, fmt.Errorf("is a %s, not a regular file, directory or symlink (exclude it)", kindOf(fi.Mode())))
		return nil
	}
}

// addFile opens p and writes it with the size and mode of the opened file,
// so a file replaced between listing and opening is still consistent.
func (w *walker) addFile(p, rel string) error {
	fh, fi, err := w.open(p, rel)
	if err != nil {
		return nil // a fault, recorded
	}
	defer fh.Close()
	return w.add(rel, fi, "", &ctxReader{ctx: w.ctx, r: fh})
}

// open opens the regular file p, recording a fault (and returning
// ErrFaulted) if it cannot be read or is no longer a regular file.
func (w *walker) open(p, rel string) (*os.File, fs.FileInfo, error) {
	// O_NOFOLLOW and O_NONBLOCK: a path swapped for a symlink or a pipe
	// since it was listed must neither be followed nor block us.
	fh, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		w.faults.add(rel, err)
		return nil, nil, ErrFaulted
	}
	fi, err := fh.Stat()
	if err != nil {
		fh.Close()
		w.faults.add(rel, err)
		return nil, nil, ErrFaulted
	}
	if !fi.Mode().IsRegular() {
		fh.Close()
		w.faults.add(rel, fmt.Errorf("is a %s, not a regular file (exclude it)", kindOf(fi.Mode())))
		return nil, nil, ErrFaulted
	}
	return fh, fi, nil
}

// addRegular hands the file to an archive that reads it only if it
// changed; the walker's checks run when (and only if) it is opened.
func (w *walker) addRegular(fa FileAdder, p, rel string, fi fs.FileInfo) error {
	if len(w.faults.paths) > 0 {
		return nil
	}
	err := fa.AddRegular(rel, fi, func() (io.ReadCloser, error) {
		fh, _, err := w.open(p, rel)
		if err != nil {
			return nil, err
		}
		return fh, nil
	})
	switch {
	case err == nil || errors.Is(err, ErrFaulted):
		return nil
	case w.ctx.Err() != nil:
		return w.ctx.Err()
	}
	return fmt.Errorf("back up %s: %w", rel, err)
}

// add writes one entry. Once a fault is known the dump will fail, so
// contents are no longer written: the rest of the walk only looks for more
// faults to report.
func (w *walker) add(rel string, fi fs.FileInfo, target string, r io.Reader) error {
	if len(w.faults.paths) > 0 {
		return nil
	}
	hdr, err := tar.FileInfoHeader(fi, target)
	if err != nil {
		return fmt.Errorf("tar header for %s: %w", rel, err)
	}
	hdr.Name = rel
	hdr.ModTime = fi.ModTime()
	if err := w.a.AddFile(hdr, r); err != nil {
		if cerr := w.ctx.Err(); cerr != nil {
			return cerr
		}
		return fmt.Errorf("back up %s: %w", rel, err)
	}
	return nil
}

// excluded matches rel against the exclude globs. A pattern without "/"
// also matches the base name at any depth, as in .gitignore: "*.tmp".
func (w *walker) excluded(rel string) bool {
	base := path.Base(rel)
	for _, p := range w.exclude {
		if ok, _ := path.Match(p, rel); ok {
			return true
		}
		if !strings.Contains(p, "/") {
			if ok, _ := path.Match(p, base); ok {
				return true
			}
		}
	}
	return false
}

func kindOf(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeDevice != 0:
		return "device"
	}
	return "special file"
}
