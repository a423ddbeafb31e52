package source

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/backupd/backupd/internal/config"
)

// lazyArchive is a FileAdder that opens only the files named in read,
// after calling swap (which may replace the file under the walker).
type lazyArchive struct {
	read    map[string]bool
	swap    func(rel string)
	got     map[string]string // rel -> content read, or "" if not read
	entries []string
}

func (a *lazyArchive) AddFile(hdr *tar.Header, r io.Reader) error {
	a.entries = append(a.entries, hdr.Name)
	return nil
}
func (a *lazyArchive) AddStream(string, io.Reader) error { return errors.New("no streams here") }
func (a *lazyArchive) SetInfo(string, any)               {}

func (a *lazyArchive) AddRegular(rel string, fi fs.FileInfo, open func() (io.ReadCloser, error)) error {
	a.entries = append(a.entries, rel)
	if !fi.Mode().IsRegular() {
		return errors.New("not regular")
	}
	if !a.read[rel] {
		a.got[rel] = ""
		return nil
	}
	if a.swap != nil {
		a.swap(rel)
	}
	rc, err := open()
	if err != nil {
		return err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	a.got[rel] = string(b)
	return err
}

// With a FileAdder the walker opens a file only when the archive asks,
// and the open keeps the walker's safety: a file swapped for a symlink or
// a pipe since it was listed is not followed, does not block, and fails
// the dump naming it.
func TestFilesLazyOpen(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "a.txt"), []byte("alpha"), 0o644)
	writeFile(t, filepath.Join(root, "b.txt"), []byte("beta"), 0o644)
	writeFile(t, filepath.Join(root, "d", "c.txt"), []byte("gamma"), 0o644)
	src := newSource(t, config.Source{Kind: config.KindFiles, Path: root})

	a := &lazyArchive{read: map[string]bool{"a.txt": true}, got: map[string]string{}}
	if err := src.Dump(context.Background(), a, Env{}); err != nil {
		t.Fatal(err)
	}
	if a.got["a.txt"] != "alpha" || a.got["b.txt"] != "" || a.got["d/c.txt"] != "" {
		t.Fatalf("read %v: want only a.txt read", a.got)
	}
	if want := "a.txt b.txt d d/c.txt"; strings.Join(a.entries, " ") != want {
		t.Fatalf("entries %v, want %s", a.entries, want)
	}

	secret := filepath.Join(t.TempDir(), "secret")
	writeFile(t, secret, []byte("not yours"), 0o644)
	swaps := map[string]func(p string){
		"symlink": func(p string) { os.Remove(p); os.Symlink(secret, p) },
		"fifo":    func(p string) { os.Remove(p); syscall.Mkfifo(p, 0o644) },
	}
	for name, swap := range swaps {
		t.Run(name, func(t *testing.T) {
			a := &lazyArchive{read: map[string]bool{"b.txt": true}, got: map[string]string{},
				swap: func(rel string) { swap(filepath.Join(root, rel)) }}
			err := src.Dump(context.Background(), a, Env{})
			if err == nil || !strings.Contains(err.Error(), "b.txt") {
				t.Fatalf("dump after swapping b.txt for a %s: %v", name, err)
			}
			if a.got["b.txt"] != "" {
				t.Fatalf("read %q through the swapped-in %s", a.got["b.txt"], name)
			}
			os.Remove(filepath.Join(root, "b.txt"))
			writeFile(t, filepath.Join(root, "b.txt"), []byte("beta"), 0o644)
		})
	}
}
