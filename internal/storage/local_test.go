package storage_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/backupd/backupd/internal/domain"
	"github.com/backupd/backupd/internal/storage"
)

func TestCommitGivesFinalNameOnlyWhenComplete(t *testing.T) {
	dir := t.TempDir()
	l, err := storage.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	p, err := l.Create("a.tar.zst")
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("x"), 20<<20) // crosses the writeback chunk
	if _, err := p.Write(data); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "a.tar.zst")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("final name exists before Commit: %v", err)
	}
	if err := p.Commit(); err != nil {
		t.Fatal(err)
	}
	f, err := l.Open("a.tar.zst")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(f)
	f.Close()
	if !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes, want %d", len(got), len(data))
	}
	if _, err := os.Stat(filepath.Join(dir, "a.tar.zst"+storage.PartialSuffix)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("partial left after Commit: %v", err)
	}
}

func TestAbortAndRemovePartials(t *testing.T) {
	dir := t.TempDir()
	l, _ := storage.NewLocal(dir)
	p, _ := l.Create("b.tar.zst")
	p.Write([]byte("half"))
	p.Abort()
	left, _ := os.ReadDir(dir)
	if len(left) != 0 {
		t.Fatalf("Abort left %v", left)
	}
	// A crash leaves a partial file: RemovePartials, run at start, clears it
	// and leaves complete archives alone.
	os.WriteFile(filepath.Join(dir, "c.tar.zst"+storage.PartialSuffix), []byte("x"), 0o600)
	os.WriteFile(filepath.Join(dir, "d.tar.zst"), []byte("y"), 0o600)
	removed, err := l.RemovePartials()
	if err != nil || len(removed) != 1 || removed[0] != "c.tar.zst.partial" {
		t.Fatalf("removed %v, %v", removed, err)
	}
	if _, err := l.Open("d.tar.zst"); err != nil {
		t.Fatalf("complete archive gone: %v", err)
	}
}

func TestNamesCannotEscape(t *testing.T) {
	l, _ := storage.NewLocal(t.TempDir())
	for _, name := range []string{"../x", "/etc/passwd", "a/b", ".hidden", ""} {
		if _, err := l.Create(name); domain.ErrorCode(err) != domain.EINVALID {
			t.Errorf("Create(%q): %v, want invalid", name, err)
		}
		if _, err := l.Open(name); domain.ErrorCode(err) != domain.EINVALID {
			t.Errorf("Open(%q): %v, want invalid", name, err)
		}
	}
	if _, err := l.Open("missing.tar.zst"); domain.ErrorCode(err) != domain.ENOTFOUND {
		t.Errorf("Open(missing): %v, want not found", err)
	}
}

// Check passes on the archive directory and fails, naming it, once it is
// gone or replaced by a file.
func TestLocalCheck(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "archives")
	s, err := storage.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.Check(ctx); err != nil {
		t.Fatalf("check of a fresh directory: %v", err)
	}
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	if err := s.Check(ctx); err == nil || !strings.Contains(err.Error(), dir) {
		t.Fatalf("check of a removed directory: %v", err)
	}
	if err := os.WriteFile(dir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.Check(ctx); err == nil || !strings.Contains(err.Error(), "is not a directory") {
		t.Fatalf("check of a file: %v", err)
	}
}
