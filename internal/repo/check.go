package repo

import (
	"context"
	"errors"
	"fmt"
)

// maxProblems bounds the problems a Check reports one by one.
const maxProblems = 20

// problems gathers what Check finds.
type problems struct {
	list []error
	n    int
}

func (p *problems) add(format string, args ...any) {
	p.n++
	if len(p.list) < maxProblems {
		p.list = append(p.list, fmt.Errorf(format, args...))
	}
}

func (p *problems) err() error {
	if p.n == 0 {
		return nil
	}
	if p.n > len(p.list) {
		p.list = append(p.list, fmt.Errorf("and %d more problems", p.n-len(p.list)))
	}
	return fmt.Errorf("repository check found %d problems: %w", p.n, errors.Join(p.list...))
}

// Check verifies the store: every pack's end is sane (and its header
// decrypts), every pack the index records is there with its size, and
// every chunk a snapshot references is in a pack; with readData, every
// blob also decrypts, decompresses and matches its id. Without the
// identity an encrypted repository gets the first two checks only. The
// error lists the problems found.
func (r *Repo) Check(ctx context.Context, readData bool) error {
	// The index is read before the store is listed: a pack is recorded
	// only after it is stored, so every pack recorded by then is listed,
	// even while backups run.
	recs, err := r.idx.Packs(ctx)
	if err != nil {
		return fmt.Errorf("check: %w", err)
	}
	r.forgetPacks()
	ps, err := r.loadPacks(ctx)
	if err != nil {
		return err
	}
	var p problems
	for id, err := range ps.bad {
		p.add("pack %s: %w", id, err)
	}
	checkIndex(recs, ps, &p)
	if r.p.Encrypted && len(r.ids) == 0 {
		return p.err()
	}
	if err := r.checkSnapshots(ctx, ps, &p); err != nil {
		return err
	}
	if readData {
		for _, m := range ps.packs {
			if err := r.checkPackData(ctx, m); err != nil {
				p.add("pack %s: %w", m.id, err)
			}
		}
	}
	return p.err()
}

func checkIndex(recs []PackRecord, ps *packSet, p *problems) {
	for _, rec := range recs {
		m, ok := ps.packs[rec.ID]
		_, bad := ps.bad[rec.ID]
		switch {
		case !ok && !bad:
			p.add("pack %s is in the index but not in the store", rec.ID)
		case ok && m.size != rec.Size:
			p.add("pack %s has %d bytes, the index says %d", rec.ID, m.size, rec.Size)
		}
	}
}

func (r *Repo) checkSnapshots(ctx context.Context, ps *packSet, p *problems) error {
	snaps, err := r.Snapshots(ctx)
	if err != nil {
		p.add("%w", err)
		return nil
	}
	for _, s := range snaps {
		missing := false
		for _, id := range s.Tree {
			if _, ok := ps.blobs[id]; !ok {
				p.add("snapshot %s: tree chunk %s is in no pack", s.ID, id)
				missing = true
			}
		}
		if missing {
			continue
		}
		err := r.Walk(ctx, s, func(e Entry) error {
			for _, id := range e.Chunks {
				if _, ok := ps.blobs[id]; !ok {
					p.add("snapshot %s: chunk %s of %s is in no pack", s.ID, id, e.Path)
				}
			}
			return nil
		})
		if err != nil {
			p.add("snapshot %s: %w", s.ID, err)
		}
	}
	return nil
}

// checkPackData reads a whole pack and decodes every blob.
func (r *Repo) checkPackData(ctx context.Context, m *packMeta) error {
	data, err := r.readRange(ctx, packName(m.id), 0, m.size)
	if err != nil {
		return err
	}
	for i, e := range m.entries {
		b := blobRef{pack: m, index: uint32(i), PackEntry: e}
		if _, err := r.decodeBlob(b, data[e.Offset:e.Offset+e.Length]); err != nil {
			return err
		}
	}
	return nil
}
