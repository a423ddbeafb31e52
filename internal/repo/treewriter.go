package repo

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
)

// Tree chunks are cut between entries, not by the data chunker: a chunk
// ends after an entry whose keyed hash says so, once the chunk holds
// treeMinChunk bytes, or at treeMaxChunk. Whether a chunk ends depends
// only on the entries in it, so a changed entry changes the one chunk
// holding it and the next cut falls where it fell before. With the data
// chunker (512 KiB minimum), 200 changed files scattered over a tree of
// 20,000 made every tree chunk new: 3.4 MB of tree stored again for
// 10 MB of changed files. The hash is the repository's keyed one, so cut
// points say nothing about names to whoever sees blob sizes.
const (
	treeMinChunk = 2 << 10
	treeMaxChunk = 64 << 10
	treeCutMask  = 1<<3 - 1 // one entry in 8 ends a chunk past the minimum
)

// treeWriter encodes a backup's entries as JSON lines, writes them to the
// files cache if any, and stores them as tree chunks.
type treeWriter struct {
	b     *Backup
	cur   bytes.Buffer
	enc   *json.Encoder
	cache *bufio.Writer // nil without a files cache
	ids   []ID
	size  int64
}

func newTreeWriter(b *Backup, cache io.Writer) *treeWriter {
	t := &treeWriter{b: b}
	t.enc = json.NewEncoder(&t.cur)
	if cache != nil {
		t.cache = bufio.NewWriterSize(cache, 256<<10)
	}
	return t
}

// add appends e's line, and stores the chunk it ends if it ends one.
func (t *treeWriter) add(e Entry) error {
	start := t.cur.Len()
	if err := t.enc.Encode(e); err != nil {
		return fmt.Errorf("write tree: %w", err)
	}
	line := t.cur.Bytes()[start:]
	if t.cache != nil {
		t.cache.Write(line) // a failing cache must not fail the backup
	}
	for t.cur.Len() >= t.b.r.p.MaxChunk { // one entry of a huge file's chunk ids
		if err := t.store(t.cur.Next(t.b.r.p.MaxChunk)); err != nil {
			return err
		}
	}
	if n := t.cur.Len(); n >= treeMaxChunk || n >= treeMinChunk && t.cut(line) {
		if err := t.store(t.cur.Bytes()); err != nil {
			return err
		}
		t.cur.Reset()
	}
	return nil
}

func (t *treeWriter) cut(line []byte) bool {
	h := t.b.r.hash.sum(line)
	return binary.LittleEndian.Uint32(h[:4])&treeCutMask == 0
}

func (t *treeWriter) store(data []byte) error {
	id := t.b.r.hash.sum(data)
	if err := t.b.store(id, TreeBlob, data); err != nil {
		return fmt.Errorf("store tree: %w", err)
	}
	t.ids = append(t.ids, id)
	t.size += int64(len(data))
	return nil
}

// close stores the last chunk and flushes the cache copy.
func (t *treeWriter) close() (treeResult, error) {
	if t.cur.Len() > 0 {
		if err := t.store(t.cur.Bytes()); err != nil {
			return treeResult{}, err
		}
		t.cur.Reset()
	}
	if t.cache != nil {
		t.cache.Flush()
	}
	return treeResult{ids: t.ids, size: t.size}, nil
}
