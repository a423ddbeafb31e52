package repo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	chunkers "github.com/PlakarKorp/go-cdc-chunkers"
)

// Backup writes one snapshot. Add, AddStream and AddDir are not safe for
// concurrent use; BytesRead is. Exactly one of Commit or Abort ends it
// (Abort after Commit does nothing, so `defer b.Abort()` is the idiom).
type Backup struct {
	r      *Repo
	meta   Meta
	ctx    context.Context
	cancel context.CancelCauseFunc
	lease  Lease
	pk     *packer

	jobs    chan job
	workers sync.WaitGroup

	mu    sync.Mutex
	seen  map[ID]bool // chunks this backup has stored or found
	packs map[ID]bool // packs holding chunks it references

	errMu sync.Mutex
	err   error

	files  *chunkers.Chunker
	tree   *treeWriter
	parent *parentCursor
	cache  *cacheWriter

	size, entries, reused int64
	stored                int64 // bytes of packs stored, once flushed
	bytesRead, bytesNew   atomic.Int64
	renewStop             chan struct{}
	renewDone             chan struct{}
	closed                bool
}

type treeResult struct {
	ids  []ID
	size int64
}

// Stats says what a backup did.
type Stats struct {
	Entries   int64 // files, directories, symlinks and streams recorded
	Reused    int64 // files recorded from the parent without being read
	BytesRead int64 // file and stream bytes read and chunked
	BytesNew  int64 // of those, bytes in chunks the repository lacked
	// BytesStored is what the backup added to the store: the bytes of the
	// packs it wrote (compressed, sealed when encrypted, with headers),
	// its tree included.
	BytesStored int64
}

// NewBackup starts a snapshot of meta.Source. It takes a lease in the
// index that keeps prune from deleting what the backup may reference.
// With Options.CacheDir, files the source's previous snapshot recorded
// with the same size, mtime, inode and mode are not read again.
func (r *Repo) NewBackup(ctx context.Context, meta Meta) (*Backup, error) {
	if err := r.canWrite(); err != nil {
		return nil, err
	}
	files, err := r.newChunker()
	if err != nil {
		return nil, err
	}
	lease, err := r.idx.BeginBackup(ctx, r.now())
	if err != nil {
		return nil, fmt.Errorf("begin backup: %w", err)
	}
	bctx, cancel := context.WithCancelCause(ctx)
	b := &Backup{r: r, meta: meta, ctx: bctx, cancel: cancel, lease: lease, pk: newPacker(bctx, r),
		jobs: make(chan job, runtime.GOMAXPROCS(0)), seen: map[ID]bool{}, packs: map[ID]bool{}, files: files,
		renewStop: make(chan struct{}), renewDone: make(chan struct{})}
	if meta.StartedAt.IsZero() {
		b.meta.StartedAt = r.now()
	}
	if err := b.openCache(); err != nil {
		b.Abort()
		return nil, err
	}
	for range backupWorkers() {
		b.workers.Go(b.work)
	}
	var cache io.Writer // not a nil *cacheWriter
	if b.cache != nil {
		cache = b.cache
	}
	b.tree = newTreeWriter(b, cache)
	go b.renew()
	return b, nil
}

// backupWorkers is how many goroutines of a backup compress and pack
// chunks: one per core, up to 4.
func backupWorkers() int { return max(1, min(runtime.GOMAXPROCS(0), 4)) }

// renew keeps the lease alive; a lapsed lease fails the backup.
func (b *Backup) renew() {
	defer close(b.renewDone)
	t := time.NewTicker(LeaseTTL / 5)
	defer t.Stop()
	for {
		select {
		case <-b.renewStop:
			return
		case <-t.C:
			if err := b.r.idx.RenewBackup(b.ctx, b.lease, b.r.now()); err != nil {
				b.fail(fmt.Errorf("renew repository lease: %w", err))
				return
			}
		}
	}
}

// BytesRead is how many file and stream bytes the backup has read so far,
// for progress reports.
func (b *Backup) BytesRead() int64 { return b.bytesRead.Load() }

func (b *Backup) fail(err error) {
	b.errMu.Lock()
	if b.err == nil {
		b.err = err
		b.cancel(err)
	}
	b.errMu.Unlock()
}

func (b *Backup) failed() error {
	b.errMu.Lock()
	defer b.errMu.Unlock()
	if b.err == nil && b.ctx.Err() != nil {
		b.err = context.Cause(b.ctx)
	}
	return b.err
}

func (b *Backup) usable() error {
	if b.closed {
		return errClosed
	}
	return b.failed()
}

// record appends e to the tree.
func (b *Backup) record(e Entry) error {
	if err := b.tree.add(e); err != nil {
		b.fail(err)
		return b.failed()
	}
	b.entries++
	b.size += e.Size
	return nil
}

// AddStream stores the stream r as one file entry called name: the dump
// of a database, or a command's output.
func (b *Backup) AddStream(ctx context.Context, name string, r io.Reader) error {
	e := Entry{Path: name, Type: TypeFile, Mode: 0o600, MTime: b.r.now().UnixNano()}
	if err := e.check(); err != nil {
		return err
	}
	if err := b.usable(); err != nil {
		return err
	}
	ids, n, err := b.storeStream(ctxReader{ctx, r}, DataBlob, b.files)
	if err != nil {
		b.fail(fmt.Errorf("stream %s: %w", name, err))
		return b.failed()
	}
	e.Chunks, e.Size = ids, n
	return b.record(e)
}

// Add records one entry of a files tree, in tree order (as
// filepath.WalkDir visits). For a file, open is called to read its
// content, unless the parent snapshot has the file unchanged; the size
// recorded is what was read.
func (b *Backup) Add(ctx context.Context, e Entry, open func() (io.ReadCloser, error)) error {
	if err := e.check(); err != nil {
		return err
	}
	if err := b.usable(); err != nil {
		return err
	}
	e.Chunks = nil
	if e.Type != TypeFile {
		return b.record(e)
	}
	if prev, ok := b.parent.find(e.Path); ok && prev.Type == TypeFile && prev.Size == e.Size &&
		prev.MTime == e.MTime && prev.Inode == e.Inode && prev.Mode == e.Mode {
		ok, err := b.reuse(prev.Chunks)
		if err != nil {
			b.fail(err)
			return err
		}
		if ok {
			e.Chunks = prev.Chunks
			b.reused++
			return b.record(e)
		}
	}
	rc, err := open()
	if err != nil {
		return fmt.Errorf("open %s: %w", e.Path, err)
	}
	defer rc.Close()
	return b.storeFile(ctx, e, rc)
}

// AddContent records the file entry e with its content read from r to
// EOF, never taken from the parent snapshot: for a file made for the
// backup (a database snapshot copy), whose size and mtime say nothing
// about its content. Entries go in tree order, as for Add.
func (b *Backup) AddContent(ctx context.Context, e Entry, r io.Reader) error {
	e.Type, e.Chunks = TypeFile, nil
	if err := e.check(); err != nil {
		return err
	}
	if err := b.usable(); err != nil {
		return err
	}
	return b.storeFile(ctx, e, r)
}

func (b *Backup) storeFile(ctx context.Context, e Entry, r io.Reader) error {
	ids, n, err := b.storeStream(ctxReader{ctx, r}, DataBlob, b.files)
	if err != nil {
		b.fail(fmt.Errorf("read %s: %w", e.Path, err))
		return b.failed()
	}
	e.Chunks, e.Size = ids, n
	return b.record(e)
}

// ctxReader stops reading once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// Commit ends the backup: it stores the tree and the last packs, waits
// until every pack is durable and recorded, records the snapshot in the
// index, and only then writes the snapshot object. info is the manifest
// facts of the source (opaque JSON, may be nil).
func (b *Backup) Commit(ctx context.Context, info json.RawMessage) (Snapshot, Stats, error) {
	if err := b.usable(); err != nil {
		b.Abort()
		return Snapshot{}, Stats{}, err
	}
	snap, err := b.finish(ctx, info)
	if err != nil {
		b.Abort()
		return Snapshot{}, Stats{}, err
	}
	b.closed = true
	b.cancel(errClosed)
	if b.cache != nil {
		b.cache.commit() // a cache that did not land only costs re-reading
	}
	return snap, b.stats(), nil
}

func (b *Backup) stats() Stats {
	return Stats{Entries: b.entries, Reused: b.reused, BytesRead: b.bytesRead.Load(), BytesNew: b.bytesNew.Load(), BytesStored: b.stored}
}

func (b *Backup) finish(ctx context.Context, info json.RawMessage) (Snapshot, error) {
	tree, err := b.closeTree()
	if err != nil {
		return Snapshot{}, err
	}
	close(b.jobs)
	b.workers.Wait()
	b.jobs = nil
	written, err := b.pk.flush()
	b.stored = b.pk.storedBytes()
	b.pk = nil
	if err != nil {
		return Snapshot{}, err
	}
	if err := b.failed(); err != nil {
		return Snapshot{}, err
	}
	close(b.renewStop)
	<-b.renewDone
	b.renewStop = nil
	for _, p := range written {
		b.packs[p] = true
	}
	snap := Snapshot{Format: Format, ID: randomID(), RepoID: b.r.p.RepoID, Meta: b.meta,
		FinishedAt: b.r.now(), Size: b.size, Entries: b.entries, Info: info, Tree: tree.ids, TreeSize: tree.size}
	packs := make([]ID, 0, len(b.packs))
	for p := range b.packs {
		packs = append(packs, p)
	}
	slices.SortFunc(packs, func(a, b ID) int { return bytes.Compare(a[:], b[:]) })
	rec := SnapshotRecord{ID: snap.ID, Source: b.meta.Source, BackupID: b.meta.BackupID, Time: b.meta.StartedAt, Size: b.size, Packs: packs}
	if err := b.r.idx.CommitSnapshot(ctx, b.lease, rec, b.r.now()); err != nil {
		return Snapshot{}, fmt.Errorf("record snapshot: %w", err)
	}
	if err := b.r.putSnapshot(ctx, snap); err != nil {
		b.r.idx.ForgetSnapshot(context.WithoutCancel(ctx), snap.ID)
		return Snapshot{}, err
	}
	return snap, nil
}

func (b *Backup) closeTree() (treeResult, error) {
	tr, err := b.tree.close()
	if err == nil {
		err = b.failed()
	}
	return tr, err
}

func (r *Repo) putSnapshot(ctx context.Context, s Snapshot) error {
	plain, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("encode snapshot: %w", err)
	}
	data, err := sealObject(r.recipients, plain)
	if err != nil {
		return fmt.Errorf("encrypt snapshot: %w", err)
	}
	if err := r.be.Put(ctx, snapshotName(s.ID), bytes.NewReader(data), int64(len(data))); err != nil {
		return fmt.Errorf("store snapshot: %w", err)
	}
	return nil
}

// Abort ends the backup without a snapshot. Packs it stored stay,
// unreferenced, until prune removes them.
func (b *Backup) Abort() {
	if b.closed {
		return
	}
	b.closed = true
	b.fail(errAborted)
	if b.jobs != nil {
		close(b.jobs)
		b.workers.Wait()
	}
	if b.pk != nil {
		b.pk.abort(errAborted)
	}
	if b.renewStop != nil {
		close(b.renewStop)
		<-b.renewDone
	}
	b.r.idx.EndBackup(context.WithoutCancel(b.ctx), b.lease)
	if b.cache != nil {
		b.cache.abort()
	}
}

var errAborted = fmt.Errorf("backup aborted")
