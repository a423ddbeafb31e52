package repo_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/backupd/backupd/internal/repo"
	"github.com/backupd/backupd/internal/testenv"
)

// A backup canceled mid-way, or dropped without Commit (a crash), leaves
// no snapshot; the store still checks, and prune removes what it left.
func testAbort(t *testing.T, e env) {
	be := e.backend(t)
	r := openNew(t, be, nil, e.index(t), "")
	src := t.TempDir()
	genTree(t, src, 4, 10<<20)

	ctx, cancel := context.WithCancel(ctxT(t))
	b, err := r.NewBackup(ctx, repo.Meta{Source: "docs", Kind: "files"})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	err = b.AddDir(ctx, src, func(string, fs.DirEntry) bool {
		if n++; n == 40 {
			cancel()
		}
		return false
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("AddDir after cancel = %v, want context.Canceled", err)
	}
	if _, _, err := b.Commit(ctxT(t), nil); err == nil {
		t.Fatal("Commit of a canceled backup succeeded")
	}

	// A crash: packs are stored, the snapshot never is.
	b2, err := r.NewBackup(ctxT(t), repo.Meta{Source: "docs", Kind: "files"})
	if err != nil {
		t.Fatal(err)
	}
	if err := b2.AddStream(ctxT(t), "big", bytes.NewReader(content(rand.New(rand.NewPCG(9, 9)), 24<<20))); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(testenv.WaitTimeout); storedBytes(t, be) == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no pack stored before the crash; the test tests nothing")
		}
	}
	if snaps, err := r.Index().Snapshots(ctxT(t)); err != nil || len(snaps) != 0 {
		t.Fatalf("index snapshots after aborted backups: %v, %v", snaps, err)
	}
	if err := be.List(ctxT(t), "snapshots/", func(o repo.ObjectInfo) error {
		return errors.New("a snapshot object exists: " + o.Name)
	}); err != nil {
		t.Fatal(err)
	}
	if err := r.Check(ctxT(t), true); err != nil {
		t.Fatal(err)
	}
	// The crashed process's lease is gone with it (EndBackup stands in for
	// its lapse); prune then removes what both backups left.
	b2.Abort()
	if _, err := r.Prune(ctxT(t), repo.PruneOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Prune(ctxT(t), repo.PruneOptions{}); err != nil {
		t.Fatal(err)
	}
	if left := storedBytes(t, be); left != 0 {
		t.Errorf("prune left %d bytes of aborted backups", left)
	}
}

// Flipping one byte of a pack is caught by Check with readData.
func testCheckCorrupt(t *testing.T, e env) {
	be := e.backend(t)
	r := openNew(t, be, nil, e.index(t), "")
	src := t.TempDir()
	genTree(t, src, 5, 3<<20)
	backup(t, r, "docs", src)
	if err := r.Check(ctxT(t), true); err != nil {
		t.Fatal(err)
	}
	var name string
	be.List(ctxT(t), "packs/", func(o repo.ObjectInfo) error { name = o.Name; return nil })
	rc, err := be.Get(ctxT(t), name, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(rc)
	rc.Close()
	data[len(data)/3] ^= 0x40
	if err := be.Put(ctxT(t), name, bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	if err := r.Check(ctxT(t), false); err != nil {
		t.Fatalf("Check without readData reads blobs: %v", err)
	}
	if err := r.Check(ctxT(t), true); err == nil {
		t.Fatal("Check with readData missed a flipped byte")
	}
}

// A pack cut short, under a reader that already knows it (the daemon's),
// fails a walk of the tree and a restore: a chunk that lies past the end
// is never taken for the end of its stream, which would make the tree
// look shorter and the restore succeed with files missing.
func testTruncatedPack(t *testing.T, e env) {
	be := e.backend(t)
	r := openNew(t, be, nil, e.index(t), "")
	src := t.TempDir()
	writeFile(t, filepath.Join(src, "a.txt"), []byte("alpha\n"))
	writeFile(t, filepath.Join(src, "b.txt"), []byte("beta\n"))
	s := backup(t, r, "docs", src)
	restoreAndCompare(t, r, s, digest(t, src))
	var name string
	be.List(ctxT(t), "packs/", func(o repo.ObjectInfo) error { name = o.Name; return nil })
	rc, err := be.Get(ctxT(t), name, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(rc)
	rc.Close()
	// Cut after the first byte: every chunk but the first, the tree
	// among them, lies wholly past the end, where a read finds io.EOF.
	if err := be.Put(ctxT(t), name, bytes.NewReader(data[:1]), 1); err != nil {
		t.Fatal(err)
	}
	n := 0
	err = r.Walk(ctxT(t), s, func(repo.Entry) error { n++; return nil })
	if err == nil || !strings.Contains(err.Error(), name) {
		t.Fatalf("Walk of a truncated pack's tree: %v, with %d entries; want an error naming %s", err, n, name)
	}
	if err := r.Restore(ctxT(t), s, t.TempDir(), repo.RestoreOptions{}); err == nil {
		t.Fatal("Restore from a truncated pack succeeded")
	}
}
