package repo_test

import (
	"context"
	"sync"
	"testing"

	"github.com/backupd/backupd/internal/repo"
)

// Forgetting snapshots and pruning reclaims the packs only they needed and
// leaves the others restorable.
func testPrune(t *testing.T, e env) {
	be := e.backend(t)
	r := openNew(t, be, nil, e.index(t), "")
	a, b := t.TempDir(), t.TempDir()
	genTree(t, a, 6, 6<<20)
	genTree(t, b, 7, 6<<20)
	sa1 := backup(t, r, "a", a)
	onlyA := storedBytes(t, be)
	sb := backup(t, r, "b", b)
	mutate(t, a, 1)
	wantA := digest(t, a)
	sa2 := backup(t, r, "a", a)
	before := storedBytes(t, be)

	for _, id := range []repo.ID{sb.ID, sa1.ID} {
		if err := r.Forget(ctxT(t), id); err != nil {
			t.Fatal(err)
		}
	}
	st, err := r.Prune(ctxT(t), repo.PruneOptions{})
	if err != nil {
		t.Fatal(err)
	}
	after := storedBytes(t, be)
	if st.Deleted == 0 || after > before-(before-onlyA)/2 || st.BytesFreed != before-after {
		t.Errorf("prune %+v: %d bytes before, %d after; source b alone had about %d", st, before, after, before-onlyA)
	}
	restoreAndCompare(t, r, sa2, wantA)
	if err := r.Check(ctxT(t), true); err != nil {
		t.Fatal(err)
	}
	if snaps, err := r.Snapshots(ctxT(t)); err != nil || len(snaps) != 1 || snaps[0].ID != sa2.ID {
		t.Errorf("snapshots after forget: %v, %v", snaps, err)
	}
}

// Prune running again and again while backups run, forgetting every
// snapshot but the newest, never leaves a snapshot whose data is gone.
func testPruneRace(t *testing.T, e env) {
	be := e.backend(t)
	r := openNew(t, be, nil, e.index(t), t.TempDir())
	src := t.TempDir()
	genTree(t, src, 8, 3<<20)
	iterations := 20
	if testing.Short() {
		iterations = 5
	}
	var prev repo.Snapshot
	for i := range iterations {
		want := digest(t, src)
		ctx, cancel := context.WithCancel(ctxT(t))
		// Prune starts once the backup is half way, when it has looked up
		// chunks in the packs of the snapshot prune is about to forget.
		halfway := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() {
			select {
			case <-halfway:
			case <-ctx.Done():
				return
			}
			for n := 0; n < 200 && ctx.Err() == nil; n++ {
				if prev.ID != (repo.ID{}) {
					if err := r.Forget(ctx, prev.ID); err != nil && ctx.Err() == nil {
						t.Error(err)
					}
				}
				if _, err := r.Prune(ctx, repo.PruneOptions{}); err != nil && ctx.Err() == nil {
					t.Error(err)
				}
			}
		})
		s := backupHook(t, r, "docs", src, func(n int) {
			if n == len(want)/2 {
				close(halfway)
			}
		})
		cancel()
		wg.Wait()
		if err := r.Check(ctxT(t), false); err != nil {
			t.Fatalf("iteration %d: %v", i, err)
		}
		restoreAndCompare(t, r, s, want)
		prev = s
		mutate(t, src, uint64(i+10))
	}
}
