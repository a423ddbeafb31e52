package repo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/backupd/backupd/internal/domain"
	"github.com/backupd/backupd/internal/storage"
)

// Local is a Backend in a directory: each object is a file, written to a
// temporary name, fsync'd, renamed into place, and its directory fsync'd.
type Local struct{ dir string }

// NewLocal creates dir if needed and returns a Local backend in it; the
// daemon uses <archive_dir>/repo.
func NewLocal(dir string) (*Local, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("create repository dir: %w", err)
	}
	return &Local{dir: dir}, nil
}

// Where names the backend.
func (l *Local) Where() string { return l.dir }

func (l *Local) path(name string) (string, error) {
	if err := checkObjectName(name); err != nil {
		return "", err
	}
	return filepath.Join(l.dir, filepath.FromSlash(name)), nil
}

// Put writes the object atomically and durably.
func (l *Local) Put(ctx context.Context, name string, r io.Reader, size int64) error {
	final, err := l.path(name)
	if err != nil {
		return err
	}
	dir := filepath.Dir(final)
	if err := l.mkdir(dir); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(final)+".tmp-*")
	if err != nil {
		return fmt.Errorf("create %s: %w", name, err)
	}
	if err := writeSync(ctx, f, r); err != nil {
		f.Close()
		os.Remove(f.Name())
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("close %s: %w", name, err)
	}
	if err := os.Rename(f.Name(), final); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("rename %s: %w", name, err)
	}
	return storage.SyncDir(dir)
}

func writeSync(ctx context.Context, f *os.File, r io.Reader) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		return err
	}
	return f.Sync()
}

// mkdir creates dir and makes its entry durable in its parent.
func (l *Local) mkdir(dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	for d := dir; d != l.dir && strings.HasPrefix(d, l.dir); d = filepath.Dir(d) {
		if err := storage.SyncDir(filepath.Dir(d)); err != nil {
			return err
		}
	}
	return nil
}

// Get opens a range of the object.
func (l *Local) Get(ctx context.Context, name string, off, length int64) (io.ReadCloser, error) {
	p, err := l.path(name)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, domain.Errorf(domain.ENOTFOUND, "%s is not in the repository at %s", name, l.dir)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", name, err)
	}
	if length < 0 {
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("stat %s: %w", name, err)
		}
		length = st.Size() - off
	}
	return sectionCloser{io.NewSectionReader(f, off, length), f}, nil
}

type sectionCloser struct {
	*io.SectionReader
	f *os.File
}

func (s sectionCloser) Close() error { return s.f.Close() }

// Stat describes one object.
func (l *Local) Stat(ctx context.Context, name string) (ObjectInfo, error) {
	p, err := l.path(name)
	if err != nil {
		return ObjectInfo{}, err
	}
	st, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return ObjectInfo{}, domain.Errorf(domain.ENOTFOUND, "%s is not in the repository at %s", name, l.dir)
	}
	if err != nil {
		return ObjectInfo{}, fmt.Errorf("stat %s: %w", name, err)
	}
	return ObjectInfo{Name: name, Size: st.Size(), ModTime: st.ModTime()}, nil
}

// List walks the files under prefix, skipping temporary ones.
func (l *Local) List(ctx context.Context, prefix string, fn func(ObjectInfo) error) error {
	err := filepath.WalkDir(l.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(l.dir, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel != "." && !strings.HasPrefix(rel+"/", prefix) && !strings.HasPrefix(prefix, rel+"/") {
				return fs.SkipDir
			}
			return nil
		}
		if !strings.HasPrefix(rel, prefix) || strings.HasPrefix(d.Name(), ".") {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		info, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil // removed while listing
		}
		if err != nil {
			return err
		}
		return fn(ObjectInfo{Name: rel, Size: info.Size(), ModTime: info.ModTime()})
	})
	if err != nil {
		return fmt.Errorf("list %s in %s: %w", prefix, l.dir, err)
	}
	return nil
}

// Remove deletes an object; a missing one is not an error.
func (l *Local) Remove(ctx context.Context, name string) error {
	p, err := l.path(name)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	return nil
}
