package repo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"

	"github.com/backupd/backupd/internal/domain"
)

// packSet is the reader's index, built from the pack headers in the store
// alone: for each chunk, a pack that holds it.
type packSet struct {
	packs map[ID]*packMeta
	blobs map[ID]blobRef
	bad   map[ID]error // packs whose end could not be read
}

// blobRef is one blob of a pack.
type blobRef struct {
	pack  *packMeta
	index uint32
	PackEntry
}

// tailRead is how much of a pack's end is read at first: the trailer and,
// usually, the whole header and envelope.
const tailRead = 256 << 10

// loadPacks reads every pack's end (a few in parallel) unless done before.
func (r *Repo) loadPacks(ctx context.Context) (*packSet, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.packs != nil {
		return r.packs, nil
	}
	ps, err := r.readPackSet(ctx)
	if err != nil {
		return nil, err
	}
	r.packs = ps
	return ps, nil
}

// forgetPacks makes the next read load the pack headers again.
func (r *Repo) forgetPacks() {
	r.mu.Lock()
	r.packs = nil
	r.mu.Unlock()
}

func (r *Repo) listPacks(ctx context.Context) ([]ObjectInfo, error) {
	var objs []ObjectInfo
	err := r.be.List(ctx, "packs/", func(o ObjectInfo) error {
		objs = append(objs, o)
		return nil
	})
	return objs, err
}

func packID(name string) (ID, error) {
	return ParseID(name[strings.LastIndexByte(name, '/')+1:])
}

// refreshPacks brings the reader's pack set up to date with the store
// after stale was found lacking (a chunk in no pack it knows, or a pack
// gone): a daemon reads and writes for weeks with one Repo, and backups
// add packs and prune removes some meanwhile. Packs known before are not
// read again. A caller that finds the set already refreshed since stale
// gets the new one.
func (r *Repo) refreshPacks(ctx context.Context, stale *packSet) (*packSet, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.packs != nil && r.packs != stale {
		return r.packs, nil
	}
	ps, err := r.readPackSetFrom(ctx, stale)
	if err != nil {
		return nil, err
	}
	r.packs = ps
	return ps, nil
}

func (r *Repo) readPackSet(ctx context.Context) (*packSet, error) {
	return r.readPackSetFrom(ctx, nil)
}

// readPackSetFrom reads the end of every pack in the store that old (if
// any) does not know.
func (r *Repo) readPackSetFrom(ctx context.Context, old *packSet) (*packSet, error) {
	objs, err := r.listPacks(ctx)
	if err != nil {
		return nil, err
	}
	ps := &packSet{packs: map[ID]*packMeta{}, blobs: map[ID]blobRef{}, bad: map[ID]error{}}
	if old != nil {
		fresh := objs[:0]
		for _, o := range objs {
			id, err := packID(o.Name)
			if m, ok := old.packs[id]; err == nil && ok && m.size == o.Size {
				ps.addMeta(id, m)
				continue
			}
			fresh = append(fresh, o)
		}
		objs = fresh
	}
	var mu sync.Mutex
	work := make(chan ObjectInfo)
	var wg sync.WaitGroup
	for range 2 * runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for o := range work {
				id, err := packID(o.Name)
				if err != nil {
					continue // not a pack of ours
				}
				m, err := r.readPackEnd(ctx, id, o.Size)
				mu.Lock()
				ps.add(id, m, err)
				mu.Unlock()
			}
		})
	}
	for _, o := range objs {
		work <- o
	}
	close(work)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return ps, nil
}

func (ps *packSet) add(id ID, m packMeta, err error) {
	if err != nil {
		ps.bad[id] = err
		return
	}
	ps.addMeta(id, &m)
}

func (ps *packSet) addMeta(id ID, pm *packMeta) {
	ps.packs[id] = pm
	for i, e := range pm.entries {
		if _, ok := ps.blobs[e.ID]; !ok {
			ps.blobs[e.ID] = blobRef{pack: pm, index: uint32(i), PackEntry: e}
		}
	}
}

// readPackEnd reads and decodes the end of one pack.
func (r *Repo) readPackEnd(ctx context.Context, id ID, size int64) (packMeta, error) {
	if size < trailerSize {
		return packMeta{}, errors.New("pack is shorter than its trailer")
	}
	n := min(size, tailRead)
	tail, err := r.readRange(ctx, packName(id), size-n, n)
	if err != nil {
		return packMeta{}, err
	}
	tr, err := parseTrailer(tail[len(tail)-trailerSize:], size)
	if err != nil {
		return packMeta{}, err
	}
	if need := tr.hdrLen + tr.envLen + trailerSize; need > n {
		if tail, err = r.readRange(ctx, packName(id), size-need, need); err != nil {
			return packMeta{}, err
		}
	}
	return parsePackEnd(id, size, tail, r.ids, r.p.Encrypted)
}

func (r *Repo) readRange(ctx context.Context, name string, off, n int64) ([]byte, error) {
	rc, err := r.be.Get(ctx, name, off, n)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	buf := make([]byte, n)
	if _, err := io.ReadFull(rc, buf); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			// Not %w: the readers above take io.EOF for the end of a
			// stream, and a tree cut short would read as a shorter tree.
			return nil, fmt.Errorf("read %s: %d bytes at offset %d: the object ends before them (truncated)", name, n, off)
		}
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return buf, nil
}

// decodeBlob turns a stored blob back into its chunk and checks it
// against its id: decrypt, decompress, recompute the keyed hash.
func (r *Repo) decodeBlob(b blobRef, stored []byte) ([]byte, error) {
	z := stored
	if r.p.Encrypted {
		if b.pack.aead == nil {
			return nil, domain.Errorf(domain.EINVALID, "the repository is encrypted: reading needs the identity")
		}
		var err error
		if z, err = unseal(nil, b.pack.aead, stored, blobAD(b.pack.id, b.index)); err != nil {
			return nil, fmt.Errorf("blob %s in pack %s: %w", b.ID, b.pack.id, err)
		}
	}
	plain, err := r.dec.DecodeAll(z, make([]byte, 0, b.RawLength))
	if err != nil {
		return nil, fmt.Errorf("blob %s in pack %s: decompress: %w", b.ID, b.pack.id, err)
	}
	if len(plain) != int(b.RawLength) || r.hash.sum(plain) != b.ID {
		return nil, fmt.Errorf("blob %s in pack %s: content does not match its id (damaged)", b.ID, b.pack.id)
	}
	return plain, nil
}

// readBlob reads, decodes and checks one chunk. A chunk in no pack the
// reader knows, or in a pack gone from the store, makes it look at the
// store again, once.
func (r *Repo) readBlob(ctx context.Context, id ID) ([]byte, error) {
	ps, err := r.loadPacks(ctx)
	if err != nil {
		return nil, err
	}
	for try := 0; ; try++ {
		data, err := r.readBlobIn(ctx, ps, id)
		if domain.ErrorCode(err) != domain.ENOTFOUND || try > 0 {
			return data, err
		}
		if ps, err = r.refreshPacks(ctx, ps); err != nil {
			return nil, err
		}
	}
}

func (r *Repo) readBlobIn(ctx context.Context, ps *packSet, id ID) ([]byte, error) {
	b, ok := ps.blobs[id]
	if !ok {
		return nil, domain.Errorf(domain.ENOTFOUND, "chunk %s is in no pack of the repository", id)
	}
	stored, err := r.readRange(ctx, packName(b.pack.id), int64(b.Offset), int64(b.Length))
	if err != nil {
		return nil, err
	}
	return r.decodeBlob(b, stored)
}
