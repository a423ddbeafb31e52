package repo_test

import (
	"os/exec"
	"path/filepath"
	"testing"

	"filippo.io/age"

	"github.com/backupd/backupd/internal/repo"
	"github.com/backupd/backupd/internal/testenv"
)

// A repository copied to another directory restores from the copy alone:
// the parameters come from the store's config, opened with the identity.
func TestCopyRestores(t *testing.T) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "repo")
	be, err := repo.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	w := openNew(t, be, []age.Recipient{id.Recipient()}, memIndex(t), "")
	src := t.TempDir()
	genTree(t, src, 11, 4<<20)
	want := digest(t, src)
	s := backup(t, w, "docs", src)

	cp := filepath.Join(t.TempDir(), "copy")
	if out, err := exec.Command(testenv.Command(t, "cp"), "-a", dir, cp).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v: %s", err, out)
	}
	cbe, err := repo.NewLocal(cp)
	if err != nil {
		t.Fatal(err)
	}
	r, err := repo.Open(ctxT(t), cbe, repo.Options{Identities: []age.Identity{id}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	snaps, err := r.Snapshots(ctxT(t))
	if err != nil || len(snaps) != 1 || snaps[0].ID != s.ID {
		t.Fatalf("snapshots of the copy: %v, %v", snaps, err)
	}
	restoreAndCompare(t, r, snaps[0], want)
}
