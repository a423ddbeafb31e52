package repository

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/backupd/backupd/internal/archive"
	"github.com/backupd/backupd/internal/config"
	"github.com/backupd/backupd/internal/domain"
	"github.com/backupd/backupd/internal/repo"
)

// An export is a repository backup as one tar.zst file (tar.zst.age when
// the repository is encrypted), in the archive format of docs/archive.md
// with its MANIFEST.json: what a download sends, which `zstd -dc | tar -x`
// unpacks and backupctl restores and verifies like an archive.
//
// Its SHA-256 must be in the headers of the first response, so the first
// download builds the whole export into ExportDir, hashing it, records the
// digest and size in the catalog, and serves the file (ranges included).
// Later downloads reuse the file. An export evicted from the cache is
// built again: the same bytes for a plain repository (fixed times, fixed
// zstd concurrency), so a resumed download goes on; an encrypted one has
// a fresh age key each time, gets a new digest, and the ETag change makes
// a resume start over.

// Export is a built export, open for reading.
type Export struct {
	File    *os.File
	SHA256  string
	Size    int64
	ModTime time.Time
}

// exportConcurrency is fixed, not GOMAXPROCS: zstd's output depends on
// whether blocks are compressed concurrently, and an export built again on
// another machine must have the same bytes.
const exportConcurrency = 2

type exports struct {
	x     *Repository
	dir   string
	mu    sync.Mutex
	locks map[string]*sync.Mutex
}

func newExports(x *Repository) (*exports, error) {
	e := &exports{x: x, dir: x.opt.ExportDir, locks: map[string]*sync.Mutex{}}
	if e.dir == "" {
		return e, nil
	}
	if err := os.MkdirAll(e.dir, 0o700); err != nil {
		return nil, fmt.Errorf("create export dir: %w", err)
	}
	// Builds a crash interrupted.
	tmps, _ := filepath.Glob(filepath.Join(e.dir, ".build-*"))
	for _, p := range tmps {
		os.Remove(p)
	}
	return e, nil
}

func (e *exports) lock(name string) func() {
	e.mu.Lock()
	l := e.locks[name]
	if l == nil {
		l = &sync.Mutex{}
		e.locks[name] = l
	}
	e.mu.Unlock()
	l.Lock()
	return l.Unlock
}

func (e *exports) path(name string) string { return filepath.Join(e.dir, filepath.Base(name)) }

func (e *exports) drop(name string) {
	if e.dir != "" && name != "" {
		os.Remove(e.path(name))
	}
}

// Export returns backup b's export, building it if it is not in the
// cache (or is not the file the catalog's digest names).
func (x *Repository) Export(ctx context.Context, b domain.Backup) (*Export, error) {
	e := x.exports
	if e.dir == "" {
		return nil, domain.Errorf(domain.EUNAVAILABLE, "exports are turned off on this server")
	}
	if b.Archive == "" {
		return nil, domain.Errorf(domain.ENOTFOUND, "backup %d has no snapshot left", b.ID)
	}
	unlock := e.lock(b.Archive)
	defer unlock()
	// Read again under the lock: a download that waited for another's
	// build finds its digest recorded.
	b, err := x.db.Backup(ctx, b.ID)
	if err != nil {
		return nil, err
	}
	if ex, ok := e.cached(b); ok {
		return ex, nil
	}
	snap, err := x.snapshot(ctx, b, "downloading a backup of the repository")
	if err != nil {
		return nil, err
	}
	ex, err := e.build(ctx, b, snap)
	if err != nil {
		return nil, err
	}
	if ex.SHA256 != b.SHA256 || ex.Size != b.ExportBytes {
		if b.SHA256 != "" {
			x.log.Info("export built again with another digest; resumed downloads start over", "backup", b.ID, "was", b.SHA256, "now", ex.SHA256)
		}
		if err := x.db.SetExport(context.WithoutCancel(ctx), b.ID, ex.SHA256, ex.Size); err != nil {
			ex.File.Close()
			return nil, err
		}
	}
	e.evict(b.Archive)
	return ex, nil
}

// cached opens the export of b if the cache has the file the catalog
// describes. It was renamed into place only after its digest was
// computed, and the client checks the digest again.
func (e *exports) cached(b domain.Backup) (*Export, bool) {
	if b.SHA256 == "" {
		return nil, false
	}
	f, err := os.Open(e.path(b.Archive))
	if err != nil {
		return nil, false
	}
	st, err := f.Stat()
	if err != nil || st.Size() != b.ExportBytes {
		f.Close()
		return nil, false
	}
	now := time.Now()
	os.Chtimes(f.Name(), now, st.ModTime()) // atime: last use, for eviction
	return &Export{File: f, SHA256: b.SHA256, Size: st.Size(), ModTime: st.ModTime()}, true
}

// build writes the export into a temporary file, hashing it, and renames
// it into place once it is durable.
func (e *exports) build(ctx context.Context, b domain.Backup, snap repo.Snapshot) (*Export, error) {
	f, err := os.CreateTemp(e.dir, ".build-*")
	if err != nil {
		return nil, fmt.Errorf("create export: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	h := sha256.New()
	res, err := e.x.writeExport(ctx, snap, &hashingWriter{w: f, h: h})
	if err != nil {
		return nil, fmt.Errorf("build the export of backup %d: %w", b.ID, err)
	}
	if err := f.Sync(); err != nil {
		return nil, fmt.Errorf("fsync export: %w", err)
	}
	final := e.path(b.Archive)
	if err := os.Rename(f.Name(), final); err != nil {
		return nil, fmt.Errorf("rename export: %w", err)
	}
	ok = true
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("stat export: %w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("rewind export: %w", err)
	}
	return &Export{File: f, SHA256: hex.EncodeToString(h.Sum(nil)), Size: res.Size, ModTime: st.ModTime()}, nil
}

type hashingWriter struct {
	w io.Writer
	h hash.Hash
}

func (w *hashingWriter) Write(p []byte) (int, error) {
	n, err := w.w.Write(p)
	w.h.Write(p[:n])
	return n, err
}

// writeExport writes snapshot snap to w as a backupd archive: the tree's
// files, directories and symlinks as tar entries (a dump's streams as
// stream parts, as its archive had them), the snapshot's info in the
// manifest. Every chunk is checked against its id on the way.
func (x *Repository) writeExport(ctx context.Context, snap repo.Snapshot, w io.Writer) (archive.Result, error) {
	finished := snap.FinishedAt
	aw, err := archive.NewWriter(w, archive.Meta{Source: snap.Source, Kind: snap.Kind, BackupID: snap.BackupID,
		Version: snap.Version, Started: snap.StartedAt}, archive.Options{Level: x.opt.Compression,
		Concurrency: exportConcurrency, Recipients: x.opt.Recipients, Now: func() time.Time { return finished }})
	if err != nil {
		return archive.Result{}, err
	}
	if len(snap.Info) > 0 {
		var info map[string]json.RawMessage
		if err := json.Unmarshal(snap.Info, &info); err != nil {
			return archive.Result{}, fmt.Errorf("snapshot info: %w", err)
		}
		for _, k := range slices.Sorted(mapKeys(info)) {
			aw.SetInfo(k, info[k])
		}
	}
	streams := isDump(snap.Kind)
	err = x.r.Walk(ctx, snap, func(e repo.Entry) error {
		if e.Type == repo.TypeFile && streams {
			rc := x.r.OpenEntry(ctx, e)
			defer rc.Close()
			return aw.AddStream(e.Path, rc)
		}
		hdr := &tar.Header{Name: e.Path, Mode: int64(e.Mode), ModTime: timeOf(e.MTime)}
		switch e.Type {
		case repo.TypeDir:
			hdr.Typeflag = tar.TypeDir
			return aw.AddFile(hdr, nil)
		case repo.TypeSymlink:
			hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, e.Link
			return aw.AddFile(hdr, nil)
		}
		hdr.Typeflag, hdr.Size = tar.TypeReg, e.Size
		rc := x.r.OpenEntry(ctx, e)
		defer rc.Close()
		return aw.AddFile(hdr, rc)
	})
	if err != nil {
		return archive.Result{}, err
	}
	return aw.Close()
}

// isDump says whether a kind's entries were streams in its archives.
func isDump(kind string) bool {
	return kind == config.KindPostgres || kind == config.KindMySQL || kind == config.KindCommand
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func timeOf(ns int64) time.Time { return time.Unix(0, ns).UTC() }

// evict removes exports unused for ExportMaxAge, then the least recently
// used ones while the cache holds more than ExportBudget bytes; keep (the
// one just built) stays whatever its size.
func (e *exports) evict(keep string) {
	entries, err := os.ReadDir(e.dir)
	if err != nil {
		return
	}
	type file struct {
		name string
		size int64
		used time.Time
	}
	var files []file
	var total int64
	for _, de := range entries {
		if strings.HasPrefix(de.Name(), ".") || de.Name() == filepath.Base(keep) {
			continue
		}
		fi, err := de.Info()
		if err != nil {
			continue
		}
		used := fi.ModTime()
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			used = time.Unix(st.Atim.Sec, st.Atim.Nsec)
		}
		if e.x.opt.ExportMaxAge > 0 && time.Since(used) > e.x.opt.ExportMaxAge {
			os.Remove(filepath.Join(e.dir, de.Name()))
			continue
		}
		files = append(files, file{de.Name(), fi.Size(), used})
		total += fi.Size()
	}
	if kept, err := os.Stat(e.path(keep)); err == nil {
		total += kept.Size()
	}
	slices.SortFunc(files, func(a, b file) int { return a.used.Compare(b.used) })
	for _, f := range files {
		if e.x.opt.ExportBudget <= 0 || total <= e.x.opt.ExportBudget {
			break
		}
		os.Remove(filepath.Join(e.dir, f.name))
		total -= f.size
	}
}
