package repo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	chunkers "github.com/PlakarKorp/go-cdc-chunkers"
	_ "github.com/PlakarKorp/go-cdc-chunkers/chunkers/fastcdc" // registers fastcdc-v1.0.0
)

// newChunker returns a chunker for the repository's parameters, with a
// scan buffer of its own (twice the largest chunk, which that library
// measures about a fifth faster than the minimum).
func (r *Repo) newChunker() (*chunkers.Chunker, error) {
	opts := &chunkers.ChunkerOpts{MinSize: r.p.MinChunk, NormalSize: r.p.AvgChunk, MaxSize: r.p.MaxChunk, Key: r.p.ChunkerKey}
	c, err := chunkers.NewChunkerBuffer(r.p.Chunker, eofReader{}, opts, make([]byte, 2*r.p.MaxChunk))
	if err != nil {
		return nil, fmt.Errorf("start chunker: %w", err)
	}
	return c, nil
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// job is a new chunk on its way to a worker, which compresses it and adds
// it to a pack.
type job struct {
	id   ID
	typ  BlobType
	data []byte // from bufPool
}

var bufPool = sync.Pool{New: func() any { return new([]byte) }}

func getBuf(n int) *[]byte {
	b := bufPool.Get().(*[]byte)
	if cap(*b) < n {
		*b = make([]byte, n)
	}
	*b = (*b)[:n]
	return b
}

// storeStream cuts r into chunks and stores those the repository lacks;
// it returns the chunk ids in order and the bytes read.
func (b *Backup) storeStream(r io.Reader, typ BlobType, c *chunkers.Chunker) ([]ID, int64, error) {
	c.Reset(r)
	var ids []ID
	var n int64
	for {
		data, err := c.Next()
		if len(data) > 0 {
			id := b.r.hash.sum(data)
			ids = append(ids, id)
			n += int64(len(data))
			if typ == DataBlob {
				b.bytesRead.Add(int64(len(data)))
			}
			if serr := b.store(id, typ, data); serr != nil {
				return nil, n, serr
			}
		}
		if errors.Is(err, io.EOF) {
			return ids, n, nil
		}
		if err != nil {
			return nil, n, err
		}
		if err := b.failed(); err != nil {
			return nil, n, err
		}
	}
}

// store makes sure chunk id is in the repository: already in this backup,
// in the index, or sent to a worker now.
func (b *Backup) store(id ID, typ BlobType, data []byte) error {
	b.mu.Lock()
	seen := b.seen[id]
	b.seen[id] = true
	b.mu.Unlock()
	if seen {
		return nil
	}
	loc, ok, err := b.r.idx.Lookup(b.ctx, id)
	if err != nil {
		return fmt.Errorf("look chunk up: %w", err)
	}
	if ok {
		b.usePack(loc.Pack)
		return nil
	}
	buf := getBuf(len(data))
	copy(*buf, data)
	b.bytesNew.Add(int64(len(data)))
	select {
	case b.jobs <- job{id: id, typ: typ, data: *buf}:
		return nil
	case <-b.ctx.Done():
		return context.Cause(b.ctx)
	}
}

func (b *Backup) usePack(p ID) {
	b.mu.Lock()
	b.packs[p] = true
	b.mu.Unlock()
}

// work compresses chunks and adds them to packs.
func (b *Backup) work() {
	var z []byte
	for j := range b.jobs {
		if b.failed() == nil {
			z = b.r.enc.EncodeAll(j.data, z[:0])
			if _, err := b.pk.add(j.id, j.typ, len(j.data), z); err != nil {
				b.fail(err)
			}
		}
		d := j.data
		bufPool.Put(&d)
	}
}

// reuse records chunks of an unchanged file without reading it, if every
// one is still in the repository (prune may have removed some since).
func (b *Backup) reuse(ids []ID) (bool, error) {
	for _, id := range ids {
		b.mu.Lock()
		seen := b.seen[id]
		b.mu.Unlock()
		if seen {
			continue
		}
		loc, ok, err := b.r.idx.Lookup(b.ctx, id)
		if err != nil || !ok {
			return false, err
		}
		b.mu.Lock()
		b.seen[id] = true
		b.packs[loc.Pack] = true
		b.mu.Unlock()
	}
	return true, nil
}
