// Package source holds one dumper per kind of backup source. A Source writes
// what it dumps into an Archive and knows nothing of files, catalogs or HTTP.
package source

import (
	"archive/tar"
	"context"
	"io"
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
