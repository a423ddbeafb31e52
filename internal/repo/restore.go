package repo

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/backupd/backupd/internal/domain"
)

// RestoreOptions choose what Restore writes.
type RestoreOptions struct {
	// Paths, if not empty, restores only these paths and what is below
	// them (their parent directories are created as needed).
	Paths []string
}

// restorePlan is what a restore writes: entries, then for each pack the
// blobs to read from it and where each goes.
type restorePlan struct {
	target string
	dirs   []Entry
	files  []Entry
	links  []Entry
	packs  map[ID][]*piece
}

type piece struct {
	blob    blobRef
	targets []target
}

type target struct {
	file int // index in files
	off  int64
}

// Restore writes the snapshot (or opt.Paths of it) below target, which
// should be empty. It reads each pack's needed blobs in few large range
// reads, decodes them on every core, and checks every chunk against its
// id before writing it.
func (r *Repo) Restore(ctx context.Context, s Snapshot, target string, opt RestoreOptions) error {
	ps, err := r.loadPacks(ctx)
	if err != nil {
		return err
	}
	err = r.restoreWith(ctx, s, target, opt, ps)
	if domain.ErrorCode(err) == domain.ENOTFOUND {
		// Packs written or pruned since the reader last looked: look
		// again and restore again (files are created anew).
		if ps, err = r.refreshPacks(ctx, ps); err != nil {
			return err
		}
		err = r.restoreWith(ctx, s, target, opt, ps)
	}
	return err
}

func (r *Repo) restoreWith(ctx context.Context, s Snapshot, target string, opt RestoreOptions, ps *packSet) error {
	plan, err := r.planRestore(ctx, s, target, opt, ps)
	if err != nil {
		return err
	}
	if err := plan.create(); err != nil {
		return err
	}
	if err := r.fetch(ctx, plan); err != nil {
		return err
	}
	return plan.finish()
}

func (r *Repo) planRestore(ctx context.Context, s Snapshot, target string, opt RestoreOptions, ps *packSet) (*restorePlan, error) {
	plan := &restorePlan{target: target, packs: map[ID][]*piece{}}
	pieces := map[ID]*piece{}
	for i, p := range opt.Paths {
		opt.Paths[i] = cleanDir(p)
	}
	err := r.Walk(ctx, s, func(e Entry) error {
		if len(opt.Paths) > 0 && !slices.ContainsFunc(opt.Paths, func(p string) bool { return inDir(e.Path, p) }) {
			return nil
		}
		if !filepath.IsLocal(filepath.FromSlash(e.Path)) {
			return domain.Errorf(domain.EINVALID, "snapshot %s holds a path outside its root: %q", s.ID, e.Path)
		}
		switch e.Type {
		case TypeDir:
			plan.dirs = append(plan.dirs, e)
		case TypeSymlink:
			plan.links = append(plan.links, e)
		case TypeFile:
			return plan.addFile(e, ps, pieces)
		}
		return nil
	})
	return plan, err
}

func (plan *restorePlan) addFile(e Entry, ps *packSet, pieces map[ID]*piece) error {
	fi := len(plan.files)
	plan.files = append(plan.files, e)
	var off int64
	for _, id := range e.Chunks {
		pc := pieces[id]
		if pc == nil {
			b, ok := ps.blobs[id]
			if !ok {
				return domain.Errorf(domain.ENOTFOUND, "chunk %s of %s is in no pack of the repository", id, e.Path)
			}
			pc = &piece{blob: b}
			pieces[id] = pc
			plan.packs[b.pack.id] = append(plan.packs[b.pack.id], pc)
		}
		pc.targets = append(pc.targets, target{file: fi, off: off})
		off += int64(pc.blob.RawLength)
	}
	return nil
}

func (plan *restorePlan) path(e Entry) string {
	return filepath.Join(plan.target, filepath.FromSlash(e.Path))
}

// create makes the directories and the files at their full size; data is
// written into them at offsets, and metadata set at the end.
func (plan *restorePlan) create() error {
	if err := os.MkdirAll(plan.target, 0o750); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	for _, d := range plan.dirs {
		if err := os.MkdirAll(plan.path(d), 0o700); err != nil {
			return fmt.Errorf("restore: %w", err)
		}
	}
	for _, e := range plan.files {
		p := plan.path(e)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return fmt.Errorf("restore: %w", err)
		}
		f, err := os.OpenFile(p, os.O_CREATE|os.O_TRUNC|os.O_WRONLY|unix.O_NOFOLLOW, 0o600)
		if err != nil {
			return fmt.Errorf("restore: %w", err)
		}
		err = f.Truncate(e.Size)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("restore %s: %w", e.Path, err)
		}
	}
	return nil
}

// mergeGap is the largest gap between two needed blobs of a pack that is
// read through rather than split into two range requests.
const mergeGap = 1 << 20

// fetch reads every pack of the plan, on a few goroutines.
func (r *Repo) fetch(ctx context.Context, plan *restorePlan) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	work := make(chan []*piece)
	var wg sync.WaitGroup
	for range 2 * runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for pieces := range work {
				if err := r.fetchPack(ctx, plan, pieces); err != nil {
					cancel(err)
				}
			}
		})
	}
	for _, pieces := range plan.packs {
		select {
		case work <- pieces:
		case <-ctx.Done():
		}
	}
	close(work)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	return nil
}

func (r *Repo) fetchPack(ctx context.Context, plan *restorePlan, pieces []*piece) error {
	slices.SortFunc(pieces, func(a, b *piece) int { return int(a.blob.Offset) - int(b.blob.Offset) })
	for start := 0; start < len(pieces); {
		end := start + 1
		for end < len(pieces) && int64(pieces[end].blob.Offset)-blobEnd(pieces[end-1]) <= mergeGap {
			end++
		}
		first := int64(pieces[start].blob.Offset)
		data, err := r.readRange(ctx, packName(pieces[start].blob.pack.id), first, blobEnd(pieces[end-1])-first)
		if err != nil {
			return err
		}
		for _, pc := range pieces[start:end] {
			off := int64(pc.blob.Offset) - first
			plain, err := r.decodeBlob(pc.blob, data[off:off+int64(pc.blob.Length)])
			if err != nil {
				return err
			}
			if err := plan.write(pc, plain); err != nil {
				return err
			}
		}
		start = end
	}
	return nil
}

func blobEnd(pc *piece) int64 { return int64(pc.blob.Offset) + int64(pc.blob.Length) }

func (plan *restorePlan) write(pc *piece, plain []byte) error {
	for _, t := range pc.targets {
		e := plan.files[t.file]
		f, err := os.OpenFile(plan.path(e), os.O_WRONLY|unix.O_NOFOLLOW, 0)
		if err != nil {
			return err
		}
		_, err = f.WriteAt(plain, t.off)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("write %s: %w", e.Path, err)
		}
	}
	return nil
}

// finish sets modes and times, makes the symlinks, and sets the
// directories' metadata last, deepest first, since writing into a
// directory changes its mtime.
func (plan *restorePlan) finish() error {
	for _, e := range plan.files {
		p := plan.path(e)
		if err := os.Chmod(p, e.FileMode()); err != nil {
			return fmt.Errorf("restore %s: %w", e.Path, err)
		}
		if err := os.Chtimes(p, time.Unix(0, e.MTime), time.Unix(0, e.MTime)); err != nil {
			return fmt.Errorf("restore %s: %w", e.Path, err)
		}
	}
	for _, e := range plan.links {
		p := plan.path(e)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return fmt.Errorf("restore: %w", err)
		}
		if err := os.Symlink(e.Link, p); err != nil {
			return fmt.Errorf("restore %s: %w", e.Path, err)
		}
		// To the nanosecond, as the tree records it (Lutimes would cut it
		// to microseconds); best effort, as tar does.
		ts := []unix.Timespec{unix.NsecToTimespec(e.MTime), unix.NsecToTimespec(e.MTime)}
		unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW)
	}
	for _, e := range slices.Backward(plan.dirs) {
		p := plan.path(e)
		if err := os.Chmod(p, e.FileMode()); err != nil {
			return fmt.Errorf("restore %s: %w", e.Path, err)
		}
		if err := os.Chtimes(p, time.Unix(0, e.MTime), time.Unix(0, e.MTime)); err != nil {
			return fmt.Errorf("restore %s: %w", e.Path, err)
		}
	}
	return nil
}
