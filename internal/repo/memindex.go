package repo

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/backupd/backupd/internal/domain"
)

// MemIndex is an Index in memory, for tests and for one-shot tools that
// rebuild it from the store. It is safe for concurrent use.
type MemIndex struct {
	mu        sync.Mutex
	gen       int64
	nextLease Lease
	chunks    map[ID]Location
	packs     map[ID]*memPack
	snaps     map[ID]SnapshotRecord
	leases    map[Lease]*memLease
}

type memPack struct {
	PackRecord
	gen, markedGen int64
}

type memLease struct {
	gen     int64
	renewed time.Time
}

// NewMemIndex returns an empty MemIndex.
func NewMemIndex() *MemIndex {
	return &MemIndex{chunks: map[ID]Location{}, packs: map[ID]*memPack{},
		snaps: map[ID]SnapshotRecord{}, leases: map[Lease]*memLease{}}
}

var _ Index = (*MemIndex)(nil)

// Lookup implements Index.
func (m *MemIndex) Lookup(_ context.Context, id ID) (Location, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	loc, ok := m.chunks[id]
	if !ok || !m.live(loc.Pack) {
		return Location{}, false, nil
	}
	return loc, true, nil
}

func (m *MemIndex) live(pack ID) bool {
	p, ok := m.packs[pack]
	return ok && p.MarkedAt.IsZero()
}

// AddPack implements Index.
func (m *MemIndex) AddPack(_ context.Context, p PackRecord, entries []PackEntry) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.packs[p.ID] = &memPack{PackRecord: p, gen: m.gen}
	for _, e := range entries {
		if old, ok := m.chunks[e.ID]; ok && m.live(old.Pack) {
			continue
		}
		m.chunks[e.ID] = Location{Pack: p.ID, Type: e.Type, Offset: e.Offset, Length: e.Length, RawLength: e.RawLength}
	}
	return nil
}

// BeginBackup implements Index.
func (m *MemIndex) BeginBackup(_ context.Context, now time.Time) (Lease, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.nextLease++
	m.leases[m.nextLease] = &memLease{gen: m.gen, renewed: now}
	return m.nextLease, nil
}

func (m *MemIndex) lease(l Lease, now time.Time) (*memLease, error) {
	ls, ok := m.leases[l]
	if !ok || now.Sub(ls.renewed) > LeaseTTL {
		return nil, domain.Errorf(domain.ECONFLICT, "the backup's repository lease lapsed (not renewed for %s): prune may have removed what it references", LeaseTTL)
	}
	return ls, nil
}

// RenewBackup implements Index.
func (m *MemIndex) RenewBackup(_ context.Context, l Lease, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	ls, err := m.lease(l, now)
	if err != nil {
		return err
	}
	ls.renewed = now
	return nil
}

// EndBackup implements Index.
func (m *MemIndex) EndBackup(_ context.Context, l Lease) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.leases, l)
	return nil
}

// CommitSnapshot implements Index.
func (m *MemIndex) CommitSnapshot(_ context.Context, l Lease, s SnapshotRecord, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, err := m.lease(l, now); err != nil {
		return err
	}
	for _, p := range s.Packs {
		if _, ok := m.packs[p]; !ok {
			return domain.Errorf(domain.ECONFLICT, "pack %s that the snapshot needs was pruned", p)
		}
	}
	for _, p := range s.Packs {
		m.packs[p].MarkedAt = time.Time{}
	}
	s.Packs = slices.Clone(s.Packs)
	m.snaps[s.ID] = s
	delete(m.leases, l)
	return nil
}

// ForgetSnapshot implements Index.
func (m *MemIndex) ForgetSnapshot(_ context.Context, id ID) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.snaps, id)
	return nil
}

// Snapshots implements Index.
func (m *MemIndex) Snapshots(context.Context) ([]SnapshotRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []SnapshotRecord
	for _, s := range m.snaps {
		s.Packs = nil
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b SnapshotRecord) int { return a.Time.Compare(b.Time) })
	return out, nil
}

// Packs implements Index.
func (m *MemIndex) Packs(context.Context) ([]PackRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []PackRecord
	for _, p := range m.packs {
		out = append(out, p.PackRecord)
	}
	return out, nil
}

func (m *MemIndex) referenced() map[ID]bool {
	ref := map[ID]bool{}
	for _, s := range m.snaps {
		for _, p := range s.Packs {
			ref[p] = true
		}
	}
	return ref
}

// minActiveGen is the generation of the oldest lease alive at now.
func (m *MemIndex) minActiveGen(now time.Time) int64 {
	g := int64(1<<63 - 1)
	for _, l := range m.leases {
		if now.Sub(l.renewed) <= LeaseTTL {
			g = min(g, l.gen)
		}
	}
	return g
}

// MarkUnreferenced implements Index.
func (m *MemIndex) MarkUnreferenced(_ context.Context, now time.Time) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ref, oldest := m.referenced(), m.minActiveGen(now)
	m.gen++
	n := 0
	for _, p := range m.packs {
		if p.MarkedAt.IsZero() && !ref[p.ID] && p.gen < oldest {
			p.MarkedAt, p.markedGen = now, m.gen
			n++
		}
	}
	return n, nil
}

// TakeDeletable implements Index.
func (m *MemIndex) TakeDeletable(_ context.Context, now time.Time, margin time.Duration) ([]PackRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for id, l := range m.leases {
		if now.Sub(l.renewed) > LeaseTTL {
			delete(m.leases, id)
		}
	}
	ref, oldest := m.referenced(), m.minActiveGen(now)
	var out []PackRecord
	for id, p := range m.packs {
		if p.MarkedAt.IsZero() || now.Sub(p.MarkedAt) < margin || ref[id] || p.markedGen > oldest {
			continue
		}
		out = append(out, p.PackRecord)
		delete(m.packs, id)
	}
	for c, loc := range m.chunks {
		if _, ok := m.packs[loc.Pack]; !ok {
			delete(m.chunks, c)
		}
	}
	return out, nil
}

// ActiveBackups implements Index.
func (m *MemIndex) ActiveBackups(_ context.Context, now time.Time) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, l := range m.leases {
		if now.Sub(l.renewed) <= LeaseTTL {
			n++
		}
	}
	return n, nil
}
