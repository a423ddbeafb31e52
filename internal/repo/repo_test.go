package repo_test

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"filippo.io/age"

	"github.com/backupd/backupd/internal/catalog"
	"github.com/backupd/backupd/internal/miniotest"
	"github.com/backupd/backupd/internal/repo"
	"github.com/backupd/backupd/internal/storage"
	"github.com/backupd/backupd/internal/testenv"
	"github.com/backupd/backupd/migrations"
)

// env gives each test case a fresh, empty backend and index.
type env struct {
	backend func(t *testing.T) repo.Backend
	index   func(t *testing.T) repo.Index
}

func memIndex(*testing.T) repo.Index { return repo.NewMemIndex() }

// catalogIndex is the index in a real SQLite catalog.
func catalogIndex(t *testing.T) repo.Index {
	db, err := catalog.Open(context.Background(), filepath.Join(t.TempDir(), "catalog.db"), migrations.FS)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db.RepoIndex()
}

func localBackend(t *testing.T) repo.Backend {
	be, err := repo.NewLocal(filepath.Join(t.TempDir(), "repo"))
	if err != nil {
		t.Fatal(err)
	}
	return be
}

func runSuite(t *testing.T, e env) {
	for _, c := range suite {
		t.Run(c.name, func(t *testing.T) { c.fn(t, e) })
	}
}

// The suite runs against a local directory and against a real MinIO.
var suite = []struct {
	name string
	fn   func(t *testing.T, e env)
}{
	{"Dedup", testDedup},
	{"Encrypted", testEncrypted},
	{"Stream", testStream},
	{"Abort", testAbort},
	{"Prune", testPrune},
	{"PruneRace", testPruneRace},
	{"CheckCorrupt", testCheckCorrupt},
	{"TruncatedPack", testTruncatedPack},
}

func TestLocal(t *testing.T) { runSuite(t, env{localBackend, memIndex}) }

// TestCatalog runs the suite with the index in the SQLite catalog.
func TestCatalog(t *testing.T) { runSuite(t, env{localBackend, catalogIndex}) }

func TestS3(t *testing.T) {
	srv := miniotest.Start(t)
	n := 0
	runSuite(t, env{func(t *testing.T) repo.Backend {
		n++
		be, err := repo.NewS3(context.Background(), storage.S3Config{Endpoint: srv.Endpoint, Bucket: srv.Bucket,
			Prefix: fmt.Sprintf("case%d/", n), AccessKey: srv.AccessKey, SecretKey: srv.SecretKey, Insecure: true})
		if err != nil {
			t.Fatal(err)
		}
		return be
	}, catalogIndex})
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testenv.WaitTimeout)
	t.Cleanup(cancel)
	return ctx
}

// openNew makes a repository and opens it for writing, as the daemon
// would: with the parameters Init returned and no identity.
func openNew(t *testing.T, be repo.Backend, recipients []age.Recipient, idx repo.Index, cacheDir string) *repo.Repo {
	t.Helper()
	p, err := repo.Init(ctxT(t), be, recipients)
	if err != nil {
		t.Fatal(err)
	}
	r, err := repo.Open(ctxT(t), be, repo.Options{Params: &p, Recipients: recipients, Index: idx, CacheDir: cacheDir, PackSize: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// Three backups of a tree with small changes between them: the second and
// third add a small fraction of the tree's size, unchanged files are not
// read again, and every snapshot restores byte for byte, whole or in part.
func testDedup(t *testing.T, e env) {
	be := e.backend(t)
	r := openNew(t, be, nil, e.index(t), t.TempDir())
	src := t.TempDir()
	genTree(t, src, 1, 12<<20)

	var snaps []repo.Snapshot
	var wants []map[string]string
	var sizes []int64
	for i := range 3 {
		if i > 0 {
			mutate(t, src, uint64(i))
		}
		wants = append(wants, digest(t, src))
		before := int64(0)
		if i > 0 {
			before = sizes[i-1]
		}
		s, st := backupStats(t, r, "docs", src)
		snaps = append(snaps, s)
		sizes = append(sizes, storedBytes(t, be))
		if got, want := st.BytesStored, sizes[i]-before; got != want {
			t.Errorf("backup %d: BytesStored = %d, the store grew by %d", i+1, got, want)
		}
		if i > 0 && (st.Reused < st.Entries/2 || st.BytesRead > s.Size/3) {
			t.Errorf("backup %d read %d of %d bytes and reused %d of %d entries: unchanged files were read again",
				i+1, st.BytesRead, s.Size, st.Reused, st.Entries)
		}
	}
	for i := 1; i < 3; i++ {
		if added := sizes[i] - sizes[i-1]; added > sizes[0]/5 {
			t.Errorf("backup %d added %d bytes to a repository of %d: dedup does not work", i+1, added, sizes[0])
		}
	}
	for i, s := range snaps {
		restoreAndCompare(t, r, s, wants[i])
	}

	ents, err := r.Ls(ctxT(t), snaps[2], "")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Path)
	}
	if want := []string{"d0", "d1", "d2", "d3", "d4", "d5", "d6", "empty", "link", "new-1.txt", "new-2.txt"}; !slices.Equal(names, want) {
		t.Errorf("Ls = %v, want %v", names, want)
	}
	if ents, err = r.Ls(ctxT(t), snaps[2], "d3/s1"); err != nil || len(ents) == 0 || ents[0].Type != repo.TypeFile {
		t.Errorf("Ls(d3/s1) = %v, %v", ents, err)
	}

	dst := t.TempDir()
	if err := r.Restore(ctxT(t), snaps[2], dst, repo.RestoreOptions{Paths: []string{"d3/s1", "link"}}); err != nil {
		t.Fatal(err)
	}
	got := digest(t, dst)
	for p, w := range wants[2] {
		sel := p == "link" || p == "d3/s1" || filepath.Dir(p) == "d3/s1"
		if g, ok := got[p]; sel && g != w {
			t.Errorf("selected %s: restored %q, want %q", p, g, w)
		} else if !sel && ok && p != "d3" {
			t.Errorf("restored %s, which was not selected", p)
		}
	}
	if err := r.Check(ctxT(t), true); err != nil {
		t.Fatal(err)
	}
}

// Written with the recipients only, an encrypted repository deduplicates,
// cannot be read without the identity, and restores with it, also from a
// fresh Open that learns the parameters from the store.
func testEncrypted(t *testing.T, e env) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	be := e.backend(t)
	w := openNew(t, be, []age.Recipient{id.Recipient()}, e.index(t), t.TempDir())
	src := t.TempDir()
	genTree(t, src, 2, 10<<20)
	want1 := digest(t, src)
	s1 := backup(t, w, "enc", src)
	first := storedBytes(t, be)
	mutate(t, src, 1)
	want2 := digest(t, src)
	s2 := backup(t, w, "enc", src)
	if added := storedBytes(t, be) - first; added > first/5 {
		t.Errorf("second encrypted backup added %d bytes to %d", added, first)
	}

	if _, err := w.Snapshot(ctxT(t), s1.ID); err == nil {
		t.Fatal("the writer, without the identity, read a snapshot back")
	}
	if _, err := repo.Open(ctxT(t), be, repo.Options{}); err == nil {
		t.Fatal("opened an encrypted repository without parameters or identity")
	}
	r, err := repo.Open(ctxT(t), be, repo.Options{Identities: []age.Identity{id}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if p := r.Params(); p.RepoID != w.Params().RepoID || !bytes.Equal(p.IDKey, w.Params().IDKey) {
		t.Fatal("the parameters read from the store differ from those Init returned")
	}
	snaps, err := r.Snapshots(ctxT(t))
	if err != nil || len(snaps) != 2 {
		t.Fatalf("Snapshots = %d, %v; want 2", len(snaps), err)
	}
	restoreAndCompare(t, r, s1, want1)
	restoreAndCompare(t, r, s2, want2)
	if err := r.Check(ctxT(t), true); err != nil {
		t.Fatal(err)
	}
	if err := w.Check(ctxT(t), false); err != nil {
		t.Fatalf("structural check without the identity: %v", err)
	}
}
