package archive

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// names lists what dir holds, relative and "/"-separated.
func names(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err == nil && p != dir {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	slices.Sort(out)
	return out
}

// ExtractWith Paths writes a file, a subtree or a stream and nothing
// else, with their modes, and still checks the whole archive.
func TestExtractPaths(t *testing.T) {
	data, _ := build(t)
	for _, c := range []struct {
		paths []string
		want  []string
	}{
		{[]string{"d/a.txt"}, []string{"d", "d/a.txt"}},
		{[]string{"/d/", "stdout"}, []string{"d", "d/a.txt", "d/bin", "d/empty", "d/link", "stdout"}},
		{[]string{"d/empty", "./empty"}, []string{"d", "d/empty", "empty"}},
		{[]string{"."}, []string{"d", "d/a.txt", "d/bin", "d/empty", "d/link", "empty", "stdout"}},
	} {
		dir := t.TempDir()
		m, err := ExtractWith(context.Background(), bytes.NewReader(data), dir, ExtractOptions{Paths: c.paths})
		if err != nil {
			t.Fatalf("%v: %v", c.paths, err)
		}
		if got := names(t, dir); !slices.Equal(got, c.want) {
			t.Errorf("%v: extracted %v, want %v", c.paths, got, c.want)
		}
		if len(m.Entries) != 7 {
			t.Errorf("%v: manifest has %d entries, want all 7", c.paths, len(m.Entries))
		}
	}
	dir := t.TempDir()
	if _, err := ExtractWith(context.Background(), bytes.NewReader(data), dir, ExtractOptions{Paths: []string{"d/a.txt"}}); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "d", "a.txt")); err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("d/a.txt: %v %v, want mode 0640", fi, err)
	}

	// A damaged entry outside the paths still fails the extraction.
	bad := bytes.Clone(data)
	bad[len(bad)/2] ^= 0xff
	if _, err := ExtractWith(context.Background(), bytes.NewReader(bad), t.TempDir(), ExtractOptions{Paths: []string{"d/a.txt"}}); err == nil {
		t.Error("a flipped byte outside the paths went unnoticed")
	}
	if _, err := ExtractWith(context.Background(), bytes.NewReader(data), t.TempDir(), ExtractOptions{Paths: []string{"d/../../etc"}}); err == nil || !strings.Contains(err.Error(), "..") {
		t.Errorf("a path with ..: %v", err)
	}
}

// ExtractStream writes one stream's parts, in order, and nothing else.
func TestExtractStream(t *testing.T) {
	data, res := build(t)
	var buf closeBuffer
	m, err := ExtractStream(context.Background(), bytes.NewReader(data), "stdout", &buf)
	if err != nil {
		t.Fatal(err)
	}
	var want int64
	for _, e := range res.Manifest.Entries {
		if e.Name == "stdout" {
			want = e.Size
		}
	}
	if int64(buf.Len()) != want || m.BackupID != 7 || !buf.closed {
		t.Errorf("stdout: %d bytes, want %d; manifest of backup %d; closed %v", buf.Len(), want, m.BackupID, buf.closed)
	}
	if _, err := ExtractStream(context.Background(), bytes.NewReader(data), "nope", &buf); err == nil || !strings.Contains(err.Error(), "no stream nope") {
		t.Errorf("a missing stream: %v", err)
	}
}

type closeBuffer struct {
	bytes.Buffer
	closed bool
}

func (b *closeBuffer) Close() error { b.closed = true; return nil }
