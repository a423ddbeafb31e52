// Package source holds one dumper per kind of backup source. A Source writes
// what it dumps into an Archive and knows nothing of files, catalogs or HTTP.
package source

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
)

// Archive is where a source writes its dump. *archive.Writer implements it.
type Archive interface {
	// AddFile writes one entry whose size is known up front: a regular file
	// (hdr.Size bytes read from r), a directory or a symlink (r is nil).
	AddFile(hdr *tar.Header, r io.Reader) error
	// AddStream writes a stream of unknown length (a command's stdout, a
	// pg_dump) under name, reading r to EOF without holding it all in memory.
	AddStream(name string, r io.Reader) error
	// SetInfo records v under key in the manifest's "info" object: what a
	// restore drill needs to check itself (row counts per table, ...).
	SetInfo(key string, v any)
}

// FileAdder is an Archive that can record a regular file without reading
// it, when the file is unchanged since the previous backup (the
// repository keeps a copy of the source's last tree for that). The files
// source uses it when its Archive has it, and AddFile otherwise.
type FileAdder interface {
	// AddRegular records the regular file rel, as lstat described it in
	// fi. open is called only if the content is needed; it opens the file
	// as the walker does (no symlink followed, no blocking on a swapped-in
	// pipe, a regular file checked after opening) and returns what to
	// read. An error from open that the walker has already recorded as a
	// fault is ErrFaulted: the entry is left out and the walk goes on.
	AddRegular(rel string, fi fs.FileInfo, open func() (io.ReadCloser, error)) error
}

// ErrFaulted marks an error the files walker has already recorded.
var ErrFaulted = errors.New("path could not be read")

// Env is what the daemon lends a source while it runs.
type Env struct {
	// TempDir is a directory on the data volume for scratch files; the
	// source removes what it creates there.
	TempDir string
	Logger  *slog.Logger
}

// Source dumps one configured thing into an archive.
type Source interface {
	// Kind is the source's kind as written in the config (files, sqlite, ...).
	Kind() string
	// Dump writes the whole backup into a. It returns an error, wrapped
	// with a message a person can act on, if anything could not be read:
	// a partial dump is a failed dump.
	Dump(ctx context.Context, a Archive, env Env) error
}
