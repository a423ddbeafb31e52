package repo

import (
	"context"
	"time"
)

// Index is what a writer keeps to deduplicate and what prune needs to
// decide, all without reading the (encrypted) store: which pack holds each
// chunk, which packs each snapshot needs, and which backups are in
// progress. MemIndex is one in memory; *catalog.DB keeps one in SQLite.
//
// Implementations apply each method atomically (one transaction).
type Index interface {
	// Lookup says where chunk id is, in a pack that is not marked for
	// deletion; ok is false when there is none.
	Lookup(ctx context.Context, id ID) (loc Location, ok bool, err error)
	// AddPack records a pack once it is durable in the store, and its
	// blobs. A chunk already recorded in a live pack keeps that location.
	AddPack(ctx context.Context, p PackRecord, entries []PackEntry) error

	// BeginBackup takes a lease for a backup about to look chunks up.
	BeginBackup(ctx context.Context, now time.Time) (Lease, error)
	// RenewBackup keeps a lease alive; it fails once the lease has lapsed
	// (LeaseTTL without renewal), which prune may have taken as dead.
	RenewBackup(ctx context.Context, l Lease, now time.Time) error
	// EndBackup drops a lease without a snapshot (an aborted backup).
	EndBackup(ctx context.Context, l Lease) error
	// CommitSnapshot records a snapshot and the packs it needs, and ends
	// the lease. It fails, changing nothing, if the lease has lapsed or a
	// pack is no longer recorded; it clears any deletion mark on the packs.
	CommitSnapshot(ctx context.Context, l Lease, s SnapshotRecord, now time.Time) error
	// ForgetSnapshot drops a snapshot's record; its packs may then be
	// pruned.
	ForgetSnapshot(ctx context.Context, id ID) error
	// Snapshots lists the recorded snapshots, oldest first, without Packs.
	Snapshots(ctx context.Context) ([]SnapshotRecord, error)
	// Packs lists the recorded packs.
	Packs(ctx context.Context) ([]PackRecord, error)

	// MarkUnreferenced marks, with the time now, every pack that no
	// snapshot needs and that was recorded before every active backup
	// began. Lookup no longer returns chunks in marked packs.
	MarkUnreferenced(ctx context.Context, now time.Time) (int, error)
	// TakeDeletable drops lapsed leases, then removes from the index and
	// returns the marked packs that may go: marked at least margin ago,
	// still needed by no snapshot, and marked after every active backup
	// began (so none of them can have looked a chunk up in them).
	TakeDeletable(ctx context.Context, now time.Time, margin time.Duration) ([]PackRecord, error)
	// ActiveBackups counts the leases that have not lapsed.
	ActiveBackups(ctx context.Context, now time.Time) (int, error)
}

// LeaseTTL is how long a backup's lease lasts without renewal. A writer
// renews it every LeaseTTL/5; one that could not (a hung process, a lost
// catalog) has its backup fail at commit instead of committing references
// that prune may have deleted.
const LeaseTTL = 10 * time.Minute

// Lease identifies a backup in progress to the Index.
type Lease int64

// Location is where a chunk is stored.
type Location struct {
	Pack      ID
	Type      BlobType
	Offset    uint32
	Length    uint32
	RawLength uint32
}

// PackRecord describes a pack in the Index.
type PackRecord struct {
	ID       ID
	Size     int64
	Blobs    int
	Created  time.Time
	MarkedAt time.Time // zero unless marked for deletion
}

// SnapshotRecord is what the Index keeps of a snapshot: enough for
// retention to choose and prune to reason, without the identity.
type SnapshotRecord struct {
	ID       ID
	Source   string
	BackupID int64
	Time     time.Time
	Size     int64
	Packs    []ID
}
