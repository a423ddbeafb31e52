package repo

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"time"

	"github.com/backupd/backupd/internal/domain"
)

// prefetch is how many chunks a sequential reader fetches ahead: enough
// to keep both cores decompressing and an object store's latency hidden.
const prefetch = 4

// chunkStream reads a list of chunks in order, fetching a few ahead.
type chunkStream struct {
	futures chan chan chunkResult
	cancel  context.CancelFunc
	cur     []byte
	err     error
}

type chunkResult struct {
	data []byte
	err  error
}

func (r *Repo) openChunks(ctx context.Context, ids []ID) *chunkStream {
	ctx, cancel := context.WithCancel(ctx)
	s := &chunkStream{futures: make(chan chan chunkResult, prefetch), cancel: cancel}
	go func() {
		defer close(s.futures)
		for _, id := range ids {
			f := make(chan chunkResult, 1)
			select {
			case s.futures <- f:
			case <-ctx.Done():
				return
			}
			go func() {
				data, err := r.readBlob(ctx, id)
				f <- chunkResult{data, err}
			}()
		}
	}()
	return s
}

func (s *chunkStream) Read(p []byte) (int, error) {
	for len(s.cur) == 0 {
		if s.err != nil {
			return 0, s.err
		}
		f, ok := <-s.futures
		if !ok {
			s.err = io.EOF
			continue
		}
		res := <-f
		s.cur, s.err = res.data, res.err
	}
	n := copy(p, s.cur)
	s.cur = s.cur[n:]
	return n, nil
}

func (s *chunkStream) Close() error {
	s.cancel()
	for f := range s.futures {
		<-f
	}
	return nil
}

// OpenEntry reads the content of a file entry (from Walk), every chunk
// checked against its id, a few fetched ahead.
func (r *Repo) OpenEntry(ctx context.Context, e Entry) io.ReadCloser {
	return &sizedStream{cs: r.openChunks(ctx, e.Chunks), want: e.Size, path: e.Path}
}

// sizedStream fails at the end if the chunks did not add up to the size
// the tree records.
type sizedStream struct {
	cs   *chunkStream
	n    int64
	want int64
	path string
}

func (s *sizedStream) Read(p []byte) (int, error) {
	n, err := s.cs.Read(p)
	s.n += int64(n)
	if errors.Is(err, io.EOF) && s.n != s.want {
		return n, fmt.Errorf("%s: %d bytes, the tree says %d", s.path, s.n, s.want)
	}
	return n, err
}

func (s *sizedStream) Close() error { return s.cs.Close() }

// Walk calls fn for every entry of the snapshot's tree, in tree order.
func (r *Repo) Walk(ctx context.Context, s Snapshot, fn func(Entry) error) error {
	cs := r.openChunks(ctx, s.Tree)
	defer cs.Close()
	t := NewTreeReader(cs)
	for {
		e, err := t.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("snapshot %s: %w", s.ID, err)
		}
		if err := e.check(); err != nil {
			return fmt.Errorf("snapshot %s: %w", s.ID, err)
		}
		if err := fn(e); err != nil {
			return err
		}
	}
}

// Ls lists the entries directly inside dir ("" or "." for the root).
func (r *Repo) Ls(ctx context.Context, s Snapshot, dir string) ([]Entry, error) {
	dir = cleanDir(dir)
	var out []Entry
	err := r.Walk(ctx, s, func(e Entry) error {
		if parentDir(e.Path) == dir {
			out = append(out, e)
		}
		return nil
	})
	return out, err
}

func cleanDir(dir string) string {
	dir = path.Clean("/" + dir)[1:]
	return dir
}

// find returns the entry at p.
func (r *Repo) find(ctx context.Context, s Snapshot, p string) (Entry, error) {
	var found *Entry
	errFound := errors.New("found")
	err := r.Walk(ctx, s, func(e Entry) error {
		if e.Path == p {
			found = &e
			return errFound
		}
		return nil
	})
	if found != nil {
		return *found, nil
	}
	if err != nil {
		return Entry{}, err
	}
	return Entry{}, domain.Errorf(domain.ENOTFOUND, "snapshot %s has no %s", s.ID, p)
}

// Dump writes the content of the file or stream at p to w, every chunk
// checked against its id: a database restore pipes it into pg_restore or
// mariadb.
func (r *Repo) Dump(ctx context.Context, s Snapshot, p string, w io.Writer) error {
	e, err := r.find(ctx, s, p)
	if err != nil {
		return err
	}
	if e.Type != TypeFile {
		return domain.Errorf(domain.EINVALID, "%s in snapshot %s is a %s, not a file", p, s.ID, e.Type)
	}
	cs := r.openChunks(ctx, e.Chunks)
	defer cs.Close()
	n, err := io.Copy(w, cs)
	if err != nil {
		return fmt.Errorf("dump %s: %w", p, err)
	}
	if n != e.Size {
		return fmt.Errorf("dump %s: %d bytes, the tree says %d", p, n, e.Size)
	}
	return nil
}

// Tar writes the snapshot as a tar stream that standard tools unpack; the
// caller compresses (and encrypts) it as it does archives.
func (r *Repo) Tar(ctx context.Context, s Snapshot, w io.Writer) error {
	tw := tar.NewWriter(w)
	err := r.Walk(ctx, s, func(e Entry) error {
		hdr := &tar.Header{Name: e.Path, Mode: int64(e.Mode), ModTime: time.Unix(0, e.MTime), Format: tar.FormatPAX}
		switch e.Type {
		case TypeDir:
			hdr.Typeflag, hdr.Name = tar.TypeDir, e.Path+"/"
		case TypeSymlink:
			hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, e.Link
		default:
			hdr.Typeflag, hdr.Size = tar.TypeReg, e.Size
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("tar %s: %w", e.Path, err)
		}
		if e.Type != TypeFile {
			return nil
		}
		cs := r.openChunks(ctx, e.Chunks)
		defer cs.Close()
		if _, err := io.Copy(tw, cs); err != nil {
			return fmt.Errorf("tar %s: %w", e.Path, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return tw.Close()
}
