package repo_test

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/backupd/backupd/internal/repo"
)

// A dump is one stream entry: it streams back byte for byte, a second
// dump that differs a little deduplicates, and a snapshot exports as a tar
// stream that archive/tar reads.
func testStream(t *testing.T, e env) {
	be := e.backend(t)
	r := openNew(t, be, nil, e.index(t), "")
	data := content(rand.New(rand.NewPCG(3, 3)), 24<<20)
	put := func(data []byte) repo.Snapshot {
		b, err := r.NewBackup(ctxT(t), repo.Meta{Source: "db", Kind: "postgres", BackupID: 7})
		if err != nil {
			t.Fatal(err)
		}
		defer b.Abort()
		if err := b.AddStream(ctxT(t), "db.pgdump", bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
		s, _, err := b.Commit(ctxT(t), []byte(`{"rows":{"t":3}}`))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s1 := put(data)
	first := storedBytes(t, be)
	data2 := bytes.Clone(data)
	copy(data2[11<<20:], "an update in the middle of the dump")
	s2 := put(data2)
	if added := storedBytes(t, be) - first; added > first/4 {
		t.Errorf("second dump added %d bytes to %d", added, first)
	}

	var out bytes.Buffer
	if err := r.Dump(ctxT(t), s2, "db.pgdump", &out); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), data2) {
		t.Fatalf("dump streamed back %d bytes that differ from the %d stored", out.Len(), len(data2))
	}
	if string(s1.Info) != `{"rows":{"t":3}}` || s1.BackupID != 7 || s1.Size != int64(len(data)) {
		t.Errorf("snapshot = %+v", s1)
	}

	out.Reset()
	if err := r.Tar(ctxT(t), s1, &out); err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(&out)
	hdr, err := tr.Next()
	if err != nil || hdr.Name != "db.pgdump" {
		t.Fatalf("tar: %v, %v", hdr, err)
	}
	got, err := io.ReadAll(tr)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("tar entry: %d bytes, %v", len(got), err)
	}
	if _, err := tr.Next(); !errors.Is(err, io.EOF) {
		t.Fatalf("tar has more than one entry: %v", err)
	}
}

// AddContent never takes content from the parent snapshot: a database
// copy made for each backup has the same size and an mtime that says
// nothing, yet its content is read every time.
func TestAddContentIsAlwaysRead(t *testing.T) {
	r := openNew(t, localBackend(t), nil, repo.NewMemIndex(), t.TempDir())
	put := func(data string) repo.Snapshot {
		b, err := r.NewBackup(ctxT(t), repo.Meta{Source: "app", Kind: "sqlite"})
		if err != nil {
			t.Fatal(err)
		}
		defer b.Abort()
		e := repo.Entry{Path: "app.db", Type: repo.TypeFile, Mode: 0o600, MTime: 1, Size: int64(len(data))}
		if err := b.AddContent(ctxT(t), e, bytes.NewReader([]byte(data))); err != nil {
			t.Fatal(err)
		}
		s, _, err := b.Commit(ctxT(t), nil)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	put("first")
	s := put("other")
	var out bytes.Buffer
	if err := r.Dump(ctxT(t), s, "app.db", &out); err != nil || out.String() != "other" {
		t.Fatalf("second snapshot holds %q, %v", out.String(), err)
	}
}

// Parameters kept first and the repository made with them after: what a
// crash in between leaves is completed by InitParams, and the
// repository opens with the kept parameters.
func TestInitParams(t *testing.T) {
	be := localBackend(t)
	if ok, err := repo.Exists(ctxT(t), be); ok || err != nil {
		t.Fatalf("Exists on an empty backend: %v, %v", ok, err)
	}
	p := repo.NewParams(false)
	if err := repo.InitParams(ctxT(t), be, nil, p); err != nil {
		t.Fatal(err)
	}
	if ok, err := repo.Exists(ctxT(t), be); !ok || err != nil {
		t.Fatalf("Exists after InitParams: %v, %v", ok, err)
	}
	if err := repo.InitParams(ctxT(t), be, nil, p); err == nil {
		t.Fatal("InitParams over a repository succeeded")
	}
	r, err := repo.Open(ctxT(t), be, repo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.Params().RepoID != p.RepoID {
		t.Fatal("the store's config is not the parameters given")
	}
	b, _ := r.NewBackup(ctxT(t), repo.Meta{Source: "s"})
	b.AddStream(ctxT(t), "out", bytes.NewReader([]byte("twelve bytes")))
	s, _, err := b.Commit(ctxT(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	var e repo.Entry
	r.Walk(ctxT(t), s, func(x repo.Entry) error { e = x; return nil })
	rc := r.OpenEntry(ctxT(t), e)
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || string(got) != "twelve bytes" {
		t.Fatalf("OpenEntry: %q, %v", got, err)
	}
	e.Size++
	rc = r.OpenEntry(ctxT(t), e)
	if _, err := io.ReadAll(rc); err == nil {
		t.Fatal("OpenEntry of an entry whose size does not match its chunks read without an error")
	}
	rc.Close()
}

// One Repo reads and writes for a long time: a snapshot committed after
// the reader first loaded the pack headers is read and restored, since a
// chunk in no pack it knows makes it look at the store again.
func TestReaderSeesNewPacks(t *testing.T) {
	r := openNew(t, localBackend(t), nil, repo.NewMemIndex(), "")
	put := func(data []byte) repo.Snapshot {
		b, err := r.NewBackup(ctxT(t), repo.Meta{Source: "s"})
		if err != nil {
			t.Fatal(err)
		}
		defer b.Abort()
		b.AddStream(ctxT(t), "out", bytes.NewReader(data))
		s, _, err := b.Commit(ctxT(t), nil)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	rng := rand.New(rand.NewPCG(5, 5))
	first := put(content(rng, 3<<20))
	var out bytes.Buffer
	if err := r.Dump(ctxT(t), first, "out", &out); err != nil {
		t.Fatal(err)
	}
	data := content(rng, 3<<20)
	second := put(data)
	out.Reset()
	if err := r.Dump(ctxT(t), second, "out", &out); err != nil || !bytes.Equal(out.Bytes(), data) {
		t.Fatalf("dump of a snapshot committed after the first read: %d bytes, %v", out.Len(), err)
	}
	dir := t.TempDir()
	third := put(content(rng, 2<<20))
	if err := r.Restore(ctxT(t), third, dir, repo.RestoreOptions{}); err != nil {
		t.Fatalf("restore of a snapshot committed after the first read: %v", err)
	}
}
