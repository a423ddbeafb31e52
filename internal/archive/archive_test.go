package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cespare/xxhash/v2"
)

// build writes a small archive with every kind of entry and returns its
// bytes and result.
func build(t *testing.T) ([]byte, Result) {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, Meta{Source: "s", Kind: "files", BackupID: 7, Version: "test", Started: time.Unix(100, 0).UTC()}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	mt := time.Unix(1700000000, 123456789)
	bin := make([]byte, 100_000)
	rand.Read(bin)
	add := func(h *tar.Header, r io.Reader) {
		t.Helper()
		h.ModTime = mt
		if err := w.AddFile(h, r); err != nil {
			t.Fatal(err)
		}
	}
	add(&tar.Header{Typeflag: tar.TypeDir, Name: "d/", Mode: 0o750}, nil)
	add(&tar.Header{Typeflag: tar.TypeReg, Name: "d/a.txt", Mode: 0o640, Size: 5}, strings.NewReader("hello"))
	add(&tar.Header{Typeflag: tar.TypeReg, Name: "d/bin", Mode: 0o600, Size: int64(len(bin))}, bytes.NewReader(bin))
	add(&tar.Header{Typeflag: tar.TypeSymlink, Name: "d/link", Linkname: "a.txt", Mode: 0o777}, nil)
	add(&tar.Header{Typeflag: tar.TypeDir, Name: "d/empty", Mode: 0o700}, nil)
	if err := w.AddStream("stdout", bytes.NewReader(bytes.Repeat(bin, 100))); err != nil { // 10 MB: three parts
		t.Fatal(err)
	}
	if err := w.AddStream("empty", strings.NewReader("")); err != nil {
		t.Fatal(err)
	}
	w.SetInfo("tables", map[string]int64{"t": 3})
	if got, want := w.BytesIn(), int64(5+len(bin)+100*len(bin)); got != want {
		t.Fatalf("BytesIn = %d, want %d", got, want)
	}
	res, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), res
}

func TestRoundTrip(t *testing.T) {
	data, res := build(t)
	sum := sha256.Sum256(data)
	if got, want := res.SHA256, hex.EncodeToString(sum[:]); got != want {
		t.Errorf("Result.SHA256 = %s, want %s", got, want)
	}
	if got, want := res.Size, int64(len(data)); got != want {
		t.Errorf("Result.Size = %d, want %d", got, want)
	}
	m := res.Manifest
	if m.Format != FormatVersion || m.Source != "s" || m.BackupID != 7 || m.Version != "test" || m.Finished.IsZero() {
		t.Errorf("manifest header = %+v", m)
	}
	if got, want := len(m.Entries), 7; got != want {
		t.Fatalf("%d entries, want %d", got, want)
	}
	st := m.Entries[5]
	if got, want := st.Type, TypeStream; got != want {
		t.Errorf("stream type = %s", got)
	}
	if got, want := strings.Join(st.Parts, ","), "stdout.part000000,stdout.part000001,stdout.part000002"; got != want {
		t.Errorf("parts = %s, want %s", got, want)
	}

	dir := t.TempDir()
	got, err := Extract(context.Background(), bytes.NewReader(data), dir)
	if err != nil {
		t.Fatal(err)
	}
	if g, w := len(got.Entries), len(m.Entries); g != w {
		t.Fatalf("extracted manifest has %d entries, want %d", g, w)
	}
	if g, w := got.Info["tables"].(map[string]any)["t"], float64(3); g != w {
		t.Errorf("info tables.t = %v, want %v", g, w)
	}
	for _, e := range m.Entries {
		p := filepath.Join(dir, e.Name)
		fi, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		switch e.Type {
		case TypeFile:
			b, _ := os.ReadFile(p)
			if g, w := fmt.Sprintf("%016x", xxhash.Sum64(b)), e.XXH64; g != w || e.SHA256 != "" {
				t.Errorf("%s: manifest has xxh64 %s and sha256 %q, want xxh64 %s and no sha256", e.Name, w, e.SHA256, g)
			}
		case TypeStream:
			b, _ := os.ReadFile(p)
			if int64(len(b)) != e.Size || e.SHA256 != "" || e.XXH64 != "" {
				t.Errorf("%s: %d bytes and checksums %q %q, want %d bytes and no checksum", e.Name, len(b), e.SHA256, e.XXH64, e.Size)
			}
		case TypeSymlink:
			target, _ := os.Readlink(p)
			if g, w := target, e.Linkname; g != w {
				t.Errorf("%s: link %s, want %s", e.Name, g, w)
			}
			if g, w := fi.ModTime(), e.ModTime; !g.Equal(w) {
				t.Errorf("%s: symlink mtime %v, want %v", e.Name, g, w)
			}
			continue
		}
		if g, w := int64(fi.Mode().Perm()), e.Mode; g != w {
			t.Errorf("%s: mode %o, want %o", e.Name, g, w)
		}
		if g, w := fi.ModTime(), e.ModTime; !g.Equal(w) {
			t.Errorf("%s: mtime %v, want %v", e.Name, g, w)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "stdout.part000000")); !os.IsNotExist(err) {
		t.Errorf("stream part left behind: %v", err)
	}
	if _, err := ReadManifest(bytes.NewReader(data)); err != nil {
		t.Errorf("ReadManifest: %v", err)
	}
}

func TestWriterRefuses(t *testing.T) {
	w, err := NewWriter(io.Discard, Meta{}, Options{Level: "best"})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"../x", "/abs", "a/../b", "", ManifestName} {
		if err := w.AddFile(&tar.Header{Typeflag: tar.TypeDir, Name: name}, nil); err == nil {
			t.Errorf("AddFile(%q) succeeded", name)
		}
	}
	if err := w.AddFile(&tar.Header{Typeflag: tar.TypeReg, Name: "f", Size: 10}, strings.NewReader("short")); err == nil {
		t.Error("a reader shorter than Size was accepted")
	}
	if _, err := w.Close(); err == nil {
		t.Error("Close after a failed AddFile succeeded")
	}
	if _, err := NewWriter(io.Discard, Meta{}, Options{Level: "max"}); err == nil {
		t.Error("unknown level accepted")
	}
}

func TestExtractDetectsDamage(t *testing.T) {
	data, _ := build(t)
	flipped := bytes.Clone(data)
	flipped[len(flipped)/2] ^= 0x40
	cases := map[string][]byte{
		"flipped byte":    flipped,
		"truncated":       data[:len(data)-100],
		"truncated early": data[:len(data)/3],
		"last byte gone":  data[:len(data)-1],
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := Extract(context.Background(), bytes.NewReader(b), t.TempDir()); err == nil {
				t.Error("Extract succeeded")
			}
			if _, err := ReadManifest(bytes.NewReader(b)); err == nil {
				t.Error("ReadManifest succeeded")
			}
		})
	}
}
