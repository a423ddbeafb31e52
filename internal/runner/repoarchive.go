package runner

import (
	"archive/tar"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"

	"github.com/backupd/backupd/internal/domain"
	"github.com/backupd/backupd/internal/repo"
	"github.com/backupd/backupd/internal/source"
)

// repoArchive is the source.Archive that writes into a repository
// backup: streams and files become tree entries of the snapshot, and the
// info a source sets becomes the snapshot's info (what drills check).
type repoArchive struct {
	ctx  context.Context
	b    *repo.Backup
	info map[string]any
}

var (
	_ source.Archive   = (*repoArchive)(nil)
	_ source.FileAdder = (*repoArchive)(nil)
)

// AddFile implements source.Archive. A regular file's content is always
// read: what comes through here (a database snapshot copy) is made for
// the backup, and its size and mtime say nothing about its content.
func (a *repoArchive) AddFile(hdr *tar.Header, r io.Reader) error {
	e := repo.Entry{Path: trimSlash(hdr.Name), Mode: uint32(hdr.Mode & 0o7777), MTime: hdr.ModTime.UnixNano()}
	switch hdr.Typeflag {
	case tar.TypeReg, tar.TypeRegA: //nolint:staticcheck // TypeRegA is what old callers set
		if r == nil {
			return domain.Errorf(domain.EINVALID, "entry %s: no reader for a regular file", e.Path)
		}
		e.Type, e.Size = repo.TypeFile, hdr.Size
		return a.b.AddContent(a.ctx, e, &exactReader{r: r, left: hdr.Size, name: e.Path})
	case tar.TypeDir:
		e.Type = repo.TypeDir
	case tar.TypeSymlink:
		e.Type, e.Link = repo.TypeSymlink, hdr.Linkname
	default:
		return domain.Errorf(domain.EINVALID, "entry %s: unsupported tar type %q", e.Path, hdr.Typeflag)
	}
	return a.b.Add(a.ctx, e, nil)
}

// AddRegular implements source.FileAdder: the file is opened only if the
// source's previous snapshot does not have it unchanged.
func (a *repoArchive) AddRegular(rel string, fi fs.FileInfo, open func() (io.ReadCloser, error)) error {
	e, ok, err := repo.EntryOf("", rel, fi)
	if err != nil || !ok {
		return fmt.Errorf("entry %s: not a regular file", rel)
	}
	return a.b.Add(a.ctx, e, open)
}

// AddStream implements source.Archive.
func (a *repoArchive) AddStream(name string, r io.Reader) error {
	return a.b.AddStream(a.ctx, name, r)
}

// SetInfo implements source.Archive.
func (a *repoArchive) SetInfo(key string, v any) {
	if a.info == nil {
		a.info = map[string]any{}
	}
	a.info[key] = v
}

func (a *repoArchive) infoJSON() (json.RawMessage, error) {
	if a.info == nil {
		return nil, nil
	}
	b, err := json.Marshal(a.info)
	if err != nil {
		return nil, fmt.Errorf("encode snapshot info: %w", err)
	}
	return b, nil
}

func trimSlash(name string) string {
	for len(name) > 1 && name[len(name)-1] == '/' {
		name = name[:len(name)-1]
	}
	return name
}

// exactReader reads exactly left bytes, as the tar writer would: a file
// that shrank while being read fails the backup.
type exactReader struct {
	r    io.Reader
	left int64
	name string
}

func (e *exactReader) Read(p []byte) (int, error) {
	if e.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > e.left {
		p = p[:e.left]
	}
	n, err := e.r.Read(p)
	e.left -= int64(n)
	if err == io.EOF && e.left > 0 {
		return n, fmt.Errorf("%s: %d bytes short: it shrank while being read", e.name, e.left)
	}
	if err == io.EOF {
		err = nil
	}
	return n, err
}
