package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// raw is one hand-made tar entry.
type raw struct {
	hdr  tar.Header
	body string
}

// craft compresses a hand-made tar stream, for archives the Writer would
// never produce.
func craft(t *testing.T, entries ...raw) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, err := zstd.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		h := e.hdr
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		h.Size = int64(len(e.body))
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func manifestEntry(t *testing.T, entries ...Entry) raw {
	t.Helper()
	return manifestOfFormat(t, FormatVersion, entries...)
}

func manifestOfFormat(t *testing.T, format int, entries ...Entry) raw {
	t.Helper()
	b, err := json.Marshal(Manifest{Format: format, Entries: entries})
	if err != nil {
		t.Fatal(err)
	}
	return raw{hdr: tar.Header{Name: ManifestName}, body: string(b)}
}

func TestExtractRefusesEscapes(t *testing.T) {
	cases := map[string][]raw{
		"dotdot":       {{hdr: tar.Header{Name: "../x"}, body: "pwned"}},
		"inner dotdot": {{hdr: tar.Header{Name: "a/../../x"}, body: "pwned"}},
		"absolute":     {{hdr: tar.Header{Name: "/tmp/x"}, body: "pwned"}},
		"symlink escape": {
			{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: "l", Linkname: ".."}},
			{hdr: tar.Header{Name: "l/x"}, body: "pwned"},
		},
		"absolute symlink escape": {
			{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: "l", Linkname: "/tmp"}},
			{hdr: tar.Header{Name: "l/x"}, body: "pwned"},
		},
		"overwrite through symlink": {
			{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: "f", Linkname: "../x"}},
			{hdr: tar.Header{Name: "f"}, body: "pwned"},
		},
		"inner symlink": {
			{hdr: tar.Header{Typeflag: tar.TypeDir, Name: "d/"}},
			{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: "l", Linkname: "d"}},
			{hdr: tar.Header{Name: "l/x"}, body: "through a link"},
		},
	}
	for name, entries := range cases {
		t.Run(name, func(t *testing.T) {
			parent := t.TempDir()
			dir := filepath.Join(parent, "out")
			_, err := Extract(context.Background(), bytes.NewReader(craft(t, entries...)), dir)
			if err == nil {
				t.Fatal("Extract succeeded")
			}
			if strings.Contains(err.Error(), "manifest") {
				t.Fatalf("refused only for the missing manifest: %v", err)
			}
			t.Logf("refused: %v", err)
			if _, serr := os.Stat(filepath.Join(parent, "x")); !os.IsNotExist(serr) {
				t.Errorf("a file was written outside the extract dir (error was %v)", err)
			}
			if _, serr := os.Stat("/tmp/x"); serr == nil {
				if b, _ := os.ReadFile("/tmp/x"); string(b) == "pwned" {
					t.Errorf("/tmp/x was written")
				}
			}
		})
	}
}

func TestExtractChecksManifest(t *testing.T) {
	good := Entry{Name: "f", Type: TypeFile, Size: 5, XXH64: xxh64Hello}
	cases := map[string]struct {
		entries []raw
		want    string
	}{
		"missing manifest": {[]raw{{hdr: tar.Header{Name: "f"}, body: "hello"}}, "no manifest"},
		"content differs":  {[]raw{{hdr: tar.Header{Name: "f"}, body: "jello"}, manifestEntry(t, good)}, "XXH64 "},
		"no checksum": {[]raw{{hdr: tar.Header{Name: "f"}, body: "hello"},
			manifestEntry(t, Entry{Name: "f", Type: TypeFile, Size: 5})}, "no checksum"},
		"entry missing": {[]raw{manifestEntry(t, good)}, "missing from the archive"},
		"unlisted entry": {[]raw{{hdr: tar.Header{Name: "f"}, body: "hello"}, {hdr: tar.Header{Name: "g"}, body: "x"},
			manifestEntry(t, good)}, "not in the manifest"},
		"entry after manifest": {[]raw{manifestEntry(t), {hdr: tar.Header{Name: "f"}, body: "hello"}}, "after the manifest"},
		"newer format": {[]raw{{hdr: tar.Header{Name: "f"}, body: "hello"}, manifestOfFormat(t, FormatVersion+1, good)},
			"is not supported"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Extract(context.Background(), bytes.NewReader(craft(t, c.entries...)), t.TempDir())
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want one containing %q", err, c.want)
			}
		})
	}
}

func TestExtractCanceled(t *testing.T) {
	data, _ := build(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Extract(ctx, bytes.NewReader(data), t.TempDir()); err != context.Canceled {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

// Known values: XXH64 (seed 0) and SHA-256 of "hello".
const (
	xxh64Hello  = "26c7827d889f6da3"
	sha256Hello = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
)

// An archive of format 1 has a SHA-256 for each file instead of an XXH64:
// it still extracts, with sizes checked, and CheckContent checks the
// SHA-256.
func TestFormat1ManifestStillReads(t *testing.T) {
	old := Entry{Name: "f", Type: TypeFile, Size: 5, SHA256: sha256Hello}
	dir := t.TempDir()
	if _, err := Extract(context.Background(), bytes.NewReader(craft(t, raw{hdr: tar.Header{Name: "f"}, body: "hello"}, manifestOfFormat(t, 1, old))), dir); err != nil {
		t.Fatalf("format 1 archive: %v", err)
	}
	_, err := Extract(context.Background(), bytes.NewReader(craft(t, raw{hdr: tar.Header{Name: "f"}, body: "hell"}, manifestOfFormat(t, 1, old))), t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "size 4, manifest says 5") {
		t.Errorf("format 1 archive with a short file: err = %v, want a size mismatch", err)
	}
	if err := old.CheckContent(strings.NewReader("hello")); err != nil {
		t.Errorf("CheckContent(hello) against its SHA-256: %v", err)
	}
	if err := old.CheckContent(strings.NewReader("jello")); err == nil || !strings.Contains(err.Error(), "SHA-256 ") {
		t.Errorf("CheckContent(jello) against the SHA-256 of hello: err = %v", err)
	}
}

func TestCheckContent(t *testing.T) {
	e := Entry{Name: "f", Type: TypeFile, Size: 5, XXH64: xxh64Hello}
	cases := []struct{ body, want string }{
		{"hello", ""},
		{"jello", "XXH64 "},
		{"hello!", "6 bytes, manifest says 5"},
	}
	for _, c := range cases {
		err := e.CheckContent(strings.NewReader(c.body))
		if (c.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.want)) {
			t.Errorf("CheckContent(%q) = %v, want %q", c.body, err, c.want)
		}
	}
	if err := (Entry{Name: "f", Type: TypeFile, Size: 5}).CheckContent(strings.NewReader("hello")); err == nil {
		t.Error("CheckContent without a checksum in the entry passed")
	}
}
