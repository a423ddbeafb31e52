package repo

import (
	"bytes"
	"context"
	"fmt"
	"sync"
)

// packer fills the packs of one backup: blobs are appended to the pack
// being built, and a full pack goes to an uploader goroutine, which stores
// it and only then records it in the index. At most one pack is being
// filled and one uploaded (the hand-over waits for the uploader), so a
// backup holds two packs in memory, and the buffer of a stored pack is
// the next one's: a 16 MiB buffer per pack left for the collector made
// the heap, and the daemon's peak RSS, grow by several packs' worth.
type packer struct {
	r       *Repo
	ctx     context.Context
	mu      sync.Mutex
	cur     *packBuilder
	written []ID // every pack handed to the uploader
	up      chan *packBuilder
	free    chan []byte // the buffer of the last pack stored
	done    chan struct{}
	errMu   sync.Mutex
	err     error
	stored  int64 // bytes of packs stored
}

func newPacker(ctx context.Context, r *Repo) *packer {
	p := &packer{r: r, ctx: ctx, up: make(chan *packBuilder), free: make(chan []byte, 1), done: make(chan struct{})}
	go p.upload()
	return p
}

// add appends one compressed chunk and returns the pack it went into.
func (p *packer) add(id ID, typ BlobType, rawLen int, z []byte) (ID, error) {
	if err := p.failed(); err != nil {
		return ID{}, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur == nil {
		var buf []byte
		select {
		case buf = <-p.free:
		default:
			buf = make([]byte, 0, p.r.packSize+p.r.packSize/8)
		}
		p.cur = newPackBuilder(p.r.p.Encrypted, buf)
	}
	pb := p.cur
	pb.add(id, typ, rawLen, z)
	if len(pb.buf) >= p.r.packSize {
		p.cur = nil
		p.send(pb)
	}
	return pb.id, nil
}

// send hands a full pack to the uploader (with p.mu held, so packs are
// recorded in written in the order they were closed).
func (p *packer) send(pb *packBuilder) {
	p.written = append(p.written, pb.id)
	select {
	case p.up <- pb:
	case <-p.ctx.Done():
		p.fail(p.ctx.Err())
	}
}

func (p *packer) upload() {
	defer close(p.done)
	for pb := range p.up {
		if p.failed() != nil {
			continue // drain: the backup has failed
		}
		if err := p.store(pb); err != nil {
			p.fail(err)
		}
	}
}

func (p *packer) store(pb *packBuilder) error {
	entries := pb.entries
	data, err := pb.finish(p.r.recipients)
	if err != nil {
		return err
	}
	if err := p.r.be.Put(p.ctx, packName(pb.id), bytes.NewReader(data), int64(len(data))); err != nil {
		return fmt.Errorf("store pack: %w", err)
	}
	rec := PackRecord{ID: pb.id, Size: int64(len(data)), Blobs: len(entries), Created: p.r.now()}
	if err := p.r.idx.AddPack(p.ctx, rec, entries); err != nil {
		return fmt.Errorf("record pack: %w", err)
	}
	p.errMu.Lock()
	p.stored += int64(len(data))
	p.errMu.Unlock()
	select {
	case p.free <- data[:0]:
	default:
	}
	return nil
}

// flush stores the last pack and waits until every pack is stored and
// recorded. It returns the packs written, or the first error.
func (p *packer) flush() ([]ID, error) {
	p.mu.Lock()
	if p.cur != nil && len(p.cur.entries) > 0 {
		p.send(p.cur)
	}
	p.cur = nil
	written := p.written
	p.mu.Unlock()
	close(p.up)
	<-p.done
	return written, p.failed()
}

// storedBytes is the size of the packs stored so far.
func (p *packer) storedBytes() int64 {
	p.errMu.Lock()
	defer p.errMu.Unlock()
	return p.stored
}

// abort stops the uploader; packs already stored stay, unreferenced, for
// prune to remove.
func (p *packer) abort(err error) {
	p.fail(err)
	p.mu.Lock()
	p.cur = nil
	p.mu.Unlock()
	close(p.up)
	<-p.done
}

func (p *packer) fail(err error) {
	p.errMu.Lock()
	if p.err == nil {
		p.err = err
	}
	p.errMu.Unlock()
}

func (p *packer) failed() error {
	p.errMu.Lock()
	defer p.errMu.Unlock()
	return p.err
}
