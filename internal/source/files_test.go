package source

import (
	"bytes"
	"context"
	"crypto/rand"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/backupd/backupd/internal/archive"
	"github.com/backupd/backupd/internal/config"
	"github.com/backupd/backupd/internal/domain"
)

// dump runs src into a fresh archive and returns the archive's bytes.
func dump(t *testing.T, src Source) ([]byte, error) {
	t.Helper()
	var buf bytes.Buffer
	w, err := archive.NewWriter(&buf, archive.Meta{Source: "t", Kind: src.Kind()}, archive.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Dump(context.Background(), w, Env{TempDir: t.TempDir()}); err != nil {
		return nil, err
	}
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), nil
}

// extract unpacks an archive made by dump into a temp dir and returns the
// dir and the manifest.
func extract(t *testing.T, data []byte) (string, archive.Manifest) {
	t.Helper()
	dst := t.TempDir()
	m, err := archive.Extract(context.Background(), bytes.NewReader(data), dst)
	if err != nil {
		t.Fatal(err)
	}
	return dst, m
}

func newSource(t *testing.T, cfg config.Source) Source {
	t.Helper()
	s, err := New("t", cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func writeFile(t *testing.T, p string, b []byte, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, mode); err != nil {
		t.Fatal(err)
	}
}

func TestFilesRoundTrip(t *testing.T) {
	src := t.TempDir()
	bin := make([]byte, 3<<20)
	rand.Read(bin)
	writeFile(t, filepath.Join(src, "a.txt"), []byte("hello\n"), 0o640)
	writeFile(t, filepath.Join(src, "sub/deep/bin"), bin, 0o600)
	writeFile(t, filepath.Join(src, "sub/x.tmp"), []byte("scratch"), 0o644)
	writeFile(t, filepath.Join(src, "cache/big"), []byte("cached"), 0o644)
	os.MkdirAll(filepath.Join(src, "empty"), 0o711)
	os.Symlink("deep/bin", filepath.Join(src, "sub/link"))
	os.Symlink("/nonexistent/target", filepath.Join(src, "dangling"))
	old := time.Unix(1600000000, 500)
	os.Chtimes(filepath.Join(src, "a.txt"), old, old)

	data, err := dump(t, newSource(t, config.Source{Kind: "files", Path: src, Exclude: []string{"*.tmp", "cache"}}))
	if err != nil {
		t.Fatal(err)
	}
	dst, m := extract(t, data)
	var names []string
	for _, e := range m.Entries {
		names = append(names, e.Name)
	}
	if got, want := strings.Join(names, " "), "a.txt dangling empty sub sub/deep sub/deep/bin sub/link"; got != want {
		t.Errorf("entries = %s, want %s", got, want)
	}
	for _, name := range []string{"a.txt", "sub/deep/bin", "empty", "sub", "sub/link", "dangling"} {
		sameEntry(t, filepath.Join(src, name), filepath.Join(dst, name))
	}
}

// sameEntry compares type, mode, mtime, content and link target.
func sameEntry(t *testing.T, want, got string) {
	t.Helper()
	wi, err := os.Lstat(want)
	if err != nil {
		t.Fatal(err)
	}
	gi, err := os.Lstat(got)
	if err != nil {
		t.Fatal(err)
	}
	if g, w := gi.Mode(), wi.Mode(); g != w {
		t.Errorf("%s: mode %v, want %v", got, g, w)
	}
	if wi.Mode()&os.ModeSymlink != 0 {
		g, _ := os.Readlink(got)
		w, _ := os.Readlink(want)
		if g != w {
			t.Errorf("%s: link %s, want %s", got, g, w)
		}
		return
	}
	if g, w := gi.ModTime(), wi.ModTime(); !g.Equal(w) {
		t.Errorf("%s: mtime %v, want %v", got, g, w)
	}
	if wi.Mode().IsRegular() {
		g, _ := os.ReadFile(got)
		w, _ := os.ReadFile(want)
		if !bytes.Equal(g, w) {
			t.Errorf("%s: content differs", got)
		}
	}
}

func TestFilesUnreadable(t *testing.T) {
	src := t.TempDir()
	writeFile(t, filepath.Join(src, "ok.txt"), []byte("fine"), 0o644)
	// Root reads anything by permission, but never a pipe or a socket.
	if err := syscall.Mkfifo(filepath.Join(src, "pipe"), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("unix", filepath.Join(src, "sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	writeFile(t, filepath.Join(src, "secret"), []byte("x"), 0o000)

	_, err = dump(t, newSource(t, config.Source{Kind: "files", Path: src}))
	if err == nil {
		t.Fatal("dump succeeded")
	}
	for _, want := range []string{"pipe (is a named pipe", "sock (is a socket"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	if os.Geteuid() != 0 && !strings.Contains(err.Error(), "secret (permission denied)") {
		t.Errorf("error %q does not name the unreadable file", err)
	}

	// Excluding them makes the dump succeed.
	if _, err := dump(t, newSource(t, config.Source{Kind: "files", Path: src, Exclude: []string{"pipe", "sock", "secret"}})); err != nil {
		t.Errorf("dump with excludes: %v", err)
	}
}

func TestFilesMissingRoot(t *testing.T) {
	_, err := dump(t, newSource(t, config.Source{Kind: "files", Path: filepath.Join(t.TempDir(), "nope")}))
	if got, want := domain.ErrorCode(err), domain.ENOTFOUND; got != want {
		t.Errorf("code = %s (%v), want %s", got, err, want)
	}
}

func TestNewUnknownKind(t *testing.T) {
	_, err := New("ora", config.Source{Kind: "oracle"})
	if got, want := domain.ErrorCode(err), domain.EINVALID; got != want {
		t.Errorf("code = %s, want %s", got, want)
	}
	if err == nil || !strings.Contains(err.Error(), "oracle") {
		t.Errorf("error %v does not name the kind", err)
	}
}
