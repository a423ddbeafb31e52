package repo

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// AddDir walks root and adds everything below it (root itself is the
// tree's root and has no entry). skip, if not nil, leaves out a path (and
// all below it, for a directory). Sockets, devices and pipes are skipped.
func (b *Backup) AddDir(ctx context.Context, root string, skip func(rel string, d fs.DirEntry) bool) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("walk %s: %w", p, err)
		}
		if p == root {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if skip != nil && skip(rel, d) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return fmt.Errorf("stat %s: %w", p, err)
		}
		e, ok, err := EntryOf(p, rel, fi)
		if err != nil || !ok {
			return err
		}
		return b.Add(ctx, e, func() (io.ReadCloser, error) { return os.Open(p) })
	})
}

// EntryOf describes the file at p (lstat'd as fi) as a tree entry called
// rel; ok is false for what a tree does not hold (devices, sockets, pipes).
func EntryOf(p, rel string, fi fs.FileInfo) (e Entry, ok bool, err error) {
	e = Entry{Path: rel, Mode: unixMode(fi.Mode()), MTime: fi.ModTime().UnixNano()}
	if st, isUnix := fi.Sys().(*syscall.Stat_t); isUnix {
		e.Inode = st.Ino
	}
	switch {
	case fi.Mode().IsRegular():
		e.Type, e.Size = TypeFile, fi.Size()
	case fi.IsDir():
		e.Type = TypeDir
	case fi.Mode()&fs.ModeSymlink != 0:
		e.Type = TypeSymlink
		if e.Link, err = os.Readlink(p); err != nil {
			return e, false, fmt.Errorf("read link %s: %w", p, err)
		}
	default:
		return e, false, nil
	}
	return e, true, nil
}
