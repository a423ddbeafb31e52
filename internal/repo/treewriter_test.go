package repo_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/backupd/backupd/internal/repo"
)

// A few files changed among thousands change a few tree chunks, not the
// whole tree: tree chunks end between entries, at points that depend on
// the entries alone. Each changed entry makes at most two new chunks (its
// own split in two by a new cut), plus the last one.
func TestTreeChunksFollowChanges(t *testing.T) {
	src := t.TempDir()
	const files, changed = 4000, 20
	for i := range files {
		writeFile(t, filepath.Join(src, fmt.Sprintf("d%02d", i/100), fmt.Sprintf("f%04d", i)), []byte(fmt.Sprint("file ", i)))
	}
	be := localBackend(t)
	p, err := repo.Init(context.Background(), be, nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := repo.Open(context.Background(), be, repo.Options{Params: &p, CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	first := backup(t, r, "src", src)
	for i := range changed {
		p := filepath.Join(src, fmt.Sprintf("d%02d", i*7%40), fmt.Sprintf("f%04d", i*7%40*100+i*13%100))
		if err := os.WriteFile(p, []byte(fmt.Sprint("changed ", i)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	second, st := backupStats(t, r, "src", src)
	old := map[repo.ID]bool{}
	for _, id := range first.Tree {
		old[id] = true
	}
	fresh := 0
	for _, id := range second.Tree {
		if !old[id] {
			fresh++
		}
	}
	if len(first.Tree) < 10 {
		t.Fatalf("a tree of %d bytes in %d chunks", first.TreeSize, len(first.Tree))
	}
	if fresh > 2*changed+1 {
		t.Errorf("%d files changed, %d of %d tree chunks new", changed, fresh, len(second.Tree))
	}
	if st.BytesStored*4 > first.TreeSize {
		t.Errorf("the second backup stored %d bytes for a tree of %d", st.BytesStored, first.TreeSize)
	}
	want := digest(t, src)
	restoreAndCompare(t, r, second, want)
}
