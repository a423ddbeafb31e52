package repo

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"

	"github.com/klauspost/compress/zstd"
)

// The files cache keeps, per source, a plain copy of the tree of its
// newest snapshot in CacheDir/<source>.tree.zst: the JSON lines the
// snapshot's tree blobs hold, zstd-compressed. The writer cannot read the
// encrypted store back, and this copy is what lets it skip unchanged
// files: one sequential read per backup, walked alongside the directory
// (both are in tree order), so memory stays small however many files
// there are. Losing it only costs reading every file once more.

func (b *Backup) cachePath() string {
	return filepath.Join(b.r.cacheDir, url.PathEscape(b.meta.Source)+".tree.zst")
}

// openCache opens the parent tree, if any, and starts the new copy.
func (b *Backup) openCache() error {
	if b.r.cacheDir == "" || b.meta.Source == "" {
		return nil
	}
	if err := os.MkdirAll(b.r.cacheDir, 0o700); err != nil {
		return fmt.Errorf("files cache: %w", err)
	}
	if f, err := os.Open(b.cachePath()); err == nil {
		zr, err := zstd.NewReader(f, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
		if err != nil {
			f.Close()
			return fmt.Errorf("files cache: %w", err)
		}
		b.parent = &parentCursor{p: NewTreeReader(zr)}
		b.cache = &cacheWriter{parentFile: f, parentZ: zr}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("files cache: %w", err)
	}
	f, err := os.CreateTemp(b.r.cacheDir, ".tree-*")
	if err != nil {
		return fmt.Errorf("files cache: %w", err)
	}
	// A 1 MiB window, not the 8 MiB of the encoder's default for a stream
	// of unknown size: JSON lines find their matches within a few lines,
	// and the writer's and the reader's windows are held all backup long.
	zw, err := zstd.NewWriter(f, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1),
		zstd.WithWindowSize(1<<20), zstd.WithLowerEncoderMem(true))
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		return fmt.Errorf("files cache: %w", err)
	}
	if b.cache == nil {
		b.cache = &cacheWriter{}
	}
	b.cache.f, b.cache.zw, b.cache.final = f, zw, b.cachePath()
	return nil
}

// cacheWriter writes the new copy of the tree beside the parent's.
type cacheWriter struct {
	f          *os.File
	zw         *zstd.Encoder
	final      string
	parentFile *os.File
	parentZ    *zstd.Decoder
	err        error
}

func (c *cacheWriter) Write(p []byte) (int, error) {
	if c.err == nil {
		_, c.err = c.zw.Write(p)
	}
	return len(p), nil // a failing cache must not fail the backup
}

func (c *cacheWriter) closeParent() {
	if c.parentZ != nil {
		c.parentZ.Close()
		c.parentFile.Close()
	}
}

// commit puts the new copy in place of the parent's.
func (c *cacheWriter) commit() {
	c.closeParent()
	if err := c.zw.Close(); err != nil || c.err != nil {
		c.abort()
		return
	}
	if err := c.f.Close(); err != nil {
		os.Remove(c.f.Name())
		return
	}
	if err := os.Rename(c.f.Name(), c.final); err != nil {
		os.Remove(c.f.Name())
	}
}

func (c *cacheWriter) abort() {
	c.closeParent()
	c.zw.Close()
	c.f.Close()
	os.Remove(c.f.Name())
}
