package repo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/backupd/backupd/internal/domain"
)

// PruneOptions tune Prune.
type PruneOptions struct {
	// Margin is how long a pack stays marked before it is deleted, and
	// how old a pack the index does not know must be before it is taken
	// for a crashed backup's leftover. The lease in the index is what
	// protects backups in progress; the margin is a second guard for a
	// writer the index cannot see (a clock far off, a catalog restored
	// from an old copy). Zero deletes at once, for tests.
	Margin time.Duration
}

// DefaultPruneMargin is the margin the daemon should use.
const DefaultPruneMargin = time.Hour

// PruneStats says what Prune did.
type PruneStats struct {
	Marked     int   // packs newly marked as needed by no snapshot
	Deleted    int   // marked packs deleted
	Orphans    int   // packs no index knew (left by crashed backups) deleted
	BytesFreed int64 // bytes of packs deleted
}

// Prune deletes packs that no snapshot needs, in two phases: each run
// marks the packs no snapshot references, and deletes those marked by an
// earlier run (at least Margin ago) once no backup that began before the
// mark is still running; a backup that references a marked pack clears
// the mark when it commits. It needs neither the identity nor the store's
// contents: the index records which packs each snapshot needs.
//
// Packs with some live chunks are kept whole: repacking them would need
// reading blobs, which the writer of an encrypted repository cannot do.
func (r *Repo) Prune(ctx context.Context, opt PruneOptions) (PruneStats, error) {
	var st PruneStats
	now := r.now()
	if err := r.checkIndexMatches(ctx); err != nil {
		return st, err
	}
	var err error
	if st.Marked, err = r.idx.MarkUnreferenced(ctx, now); err != nil {
		return st, fmt.Errorf("prune: mark: %w", err)
	}
	doomed, err := r.idx.TakeDeletable(ctx, now, opt.Margin)
	if err != nil {
		return st, fmt.Errorf("prune: %w", err)
	}
	for _, p := range doomed {
		if err := r.be.Remove(ctx, packName(p.ID)); err != nil {
			return st, fmt.Errorf("prune: %w", err)
		}
		st.Deleted++
		st.BytesFreed += p.Size
	}
	if err := r.removeOrphans(ctx, now, opt.Margin, &st); err != nil {
		return st, err
	}
	r.forgetPacks()
	return st, nil
}

// removeOrphans deletes packs in the store that the index does not know:
// those a backup stored and crashed before recording, and those whose
// deletion was recorded but not done. It runs only when no backup is in
// progress after the listing: a pack listed then, and unknown to the
// index read after that, belongs to no backup that can still record it.
func (r *Repo) removeOrphans(ctx context.Context, now time.Time, margin time.Duration, st *PruneStats) error {
	objs, err := r.listPacks(ctx)
	if err != nil {
		return fmt.Errorf("prune: %w", err)
	}
	if n, err := r.idx.ActiveBackups(ctx, now); err != nil || n > 0 {
		return err
	}
	recs, err := r.idx.Packs(ctx)
	if err != nil {
		return fmt.Errorf("prune: %w", err)
	}
	known := make(map[ID]bool, len(recs))
	for _, p := range recs {
		known[p.ID] = true
	}
	for _, o := range objs {
		id, err := packID(o.Name)
		if err != nil || known[id] || now.Sub(o.ModTime) < margin {
			continue
		}
		if err := r.be.Remove(ctx, o.Name); err != nil {
			return fmt.Errorf("prune: %w", err)
		}
		st.Orphans++
		st.BytesFreed += o.Size
	}
	return nil
}

// checkIndexMatches refuses to prune with an index that knows no snapshot
// while the store has some: a fresh MemIndex, or the wrong catalog, would
// take every pack for an orphan. The store is listed before the index is
// read, and again after: a snapshot is recorded in the index before its
// object is written and its object removed before its record, so a
// backup committing (or a forget) meanwhile cannot look like a mismatch.
func (r *Repo) checkIndexMatches(ctx context.Context) error {
	for range 2 {
		found, err := r.anySnapshotObject(ctx)
		if err != nil || !found {
			return err
		}
		snaps, err := r.idx.Snapshots(ctx)
		if err != nil || len(snaps) > 0 {
			return err
		}
	}
	return domain.Errorf(domain.ECONFLICT, "prune: the index records no snapshot but %s holds some: prune with the catalog the backups were written with", r.be.Where())
}

// anySnapshotObject reports whether the store holds a snapshot object.
func (r *Repo) anySnapshotObject(ctx context.Context) (bool, error) {
	found := false
	err := r.be.List(ctx, "snapshots/", func(ObjectInfo) error {
		found = true
		return errStopList
	})
	if err != nil && !errors.Is(err, errStopList) {
		return false, fmt.Errorf("prune: %w", err)
	}
	return found, nil
}

var errStopList = errors.New("stop listing")
