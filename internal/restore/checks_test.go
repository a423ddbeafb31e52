package restore

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/backupd/backupd/internal/archive"
)

// extracted writes a small tree with the archive package's own writer and
// extracts it, as a drill does, returning the directory and manifest.
func extracted(t *testing.T) (string, archive.Manifest) {
	t.Helper()
	var buf bytes.Buffer
	w, err := archive.NewWriter(&buf, archive.Meta{Source: "s", Kind: "files"}, archive.Options{})
	if err != nil {
		t.Fatal(err)
	}
	mtime := time.Unix(1_700_000_000, 0)
	file := &tar.Header{Typeflag: tar.TypeReg, Name: "a.txt", Size: 5, Mode: 0o640, ModTime: mtime}
	if err := w.AddFile(file, strings.NewReader("hello")); err != nil {
		t.Fatal(err)
	}
	link := &tar.Header{Typeflag: tar.TypeSymlink, Name: "link", Linkname: "a.txt", Mode: 0o777, ModTime: mtime}
	if err := w.AddFile(link, nil); err != nil {
		t.Fatal(err)
	}
	if err := w.AddStream("stdout", strings.NewReader("streamed")); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	m, err := archive.Extract(context.Background(), &buf, dir)
	if err != nil {
		t.Fatal(err)
	}
	return dir, m
}

func TestCheckEntries(t *testing.T) {
	dir, m := extracted(t)
	if err := checkEntries(dir, m); err != nil {
		t.Fatalf("a clean restore: %v", err)
	}
	// Same size, other bytes: only the checksum can tell.
	if err := os.WriteFile(filepath.Join(dir, "a.txt"), []byte("jello"), 0o640); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, "stdout"))
	os.Remove(filepath.Join(dir, "link"))
	os.Symlink("elsewhere", filepath.Join(dir, "link"))
	err := checkEntries(dir, m)
	for _, want := range []string{"a.txt: restored XXH64", "stdout: not restored", `link: links to "elsewhere"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want it to contain %q", err, want)
		}
	}
}

// A format 1 manifest has a SHA-256 per file; the drill checks it.
func TestCheckEntriesFormat1(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("hello"))
	m := archive.Manifest{Format: 1, Entries: []archive.Entry{{Name: "f", Type: archive.TypeFile, Size: 5, SHA256: hex.EncodeToString(sum[:])}}}
	if err := checkEntries(dir, m); err != nil {
		t.Fatalf("format 1, right content: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "f"), []byte("jello"), 0o600)
	if err := checkEntries(dir, m); err == nil || !strings.Contains(err.Error(), "f: restored SHA-256") {
		t.Errorf("format 1, changed content: err = %v", err)
	}
}

func TestCheckSQLite(t *testing.T) {
	dir := t.TempDir()
	db, err := sql.Open("sqlite3", filepath.Join(dir, "app.db"))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"CREATE TABLE t (x)", "INSERT INTO t VALUES (1), (2), (3)", "CREATE TABLE u (y)",
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	manifest := func(tables map[string]any) archive.Manifest {
		return archive.Manifest{Kind: "sqlite", Entries: []archive.Entry{{Name: "app.db", Type: archive.TypeFile}},
			Info: map[string]any{"tables": tables}}
	}
	ctx := context.Background()
	if err := checkSQLite(ctx, dir, manifest(map[string]any{"t": 3.0, "u": 0.0})); err != nil {
		t.Fatalf("matching counts: %v", err)
	}
	err = checkSQLite(ctx, dir, manifest(map[string]any{"t": 4.0, "v": 1.0}))
	for _, want := range []string{"table t has 3 rows after restore, 4 at backup time", "table v is missing", "table u appears after restore"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want it to contain %q", err, want)
		}
	}
	if err := checkSQLite(ctx, dir, archive.Manifest{Kind: "sqlite", Entries: []archive.Entry{{Name: "app.db", Type: archive.TypeFile}}}); err == nil ||
		!strings.Contains(err.Error(), "no row counts") {
		t.Errorf("manifest without counts: err = %v", err)
	}
}
