// Package archive writes and reads backupd archives: one tar stream,
// compressed with zstd, whose last entry is a JSON manifest listing every
// entry with its size and, for files, a checksum. The writer makes one streaming pass with
// bounded memory; the reader extracts or verifies in one pass too. The format
// is described in docs/archive.md.
package archive

import (
	"fmt"
	"time"

	"filippo.io/age"
	"github.com/klauspost/compress/zstd"

	"github.com/backupd/backupd/internal/domain"
)

// ManifestName is the name of the manifest, the last entry of every archive.
// A source may not use it at the root of its dump.
const ManifestName = "MANIFEST.json"

// FormatVersion is the manifest's format number. Format 1 recorded a
// SHA-256 for each file, format 2 an XXH64 (checksum.go); readers accept
// both.
const FormatVersion = 2

// PartSize is the largest tar entry a stream is split into. AddStream holds
// one part in memory, so this is also its buffer size.
const PartSize = 4 << 20

// Entry types in the manifest.
const (
	TypeFile    = "file"
	TypeDir     = "dir"
	TypeSymlink = "symlink"
	TypeStream  = "stream"
)

// streamMarker tags the tar entries that are parts of a stream. It lives in
// the standard PAX "comment" record, which tar tools ignore without a
// warning (GNU tar warns about vendor keywords), so `tar -x` stays quiet.
const streamMarker = "backupd stream part"

// Options tunes the compression of a Writer.
type Options struct {
	// Level is the compression level: fastest, default, better or best
	// (config.Compression). Empty means default.
	Level string
	// Concurrency is how many blocks zstd compresses at once; 0 means
	// GOMAXPROCS.
	Concurrency int
	// Recipients, if any, encrypt the archive with age (tar -> zstd ->
	// age): only the holder of one of their identities can read it.
	Recipients []age.Recipient
	// Now, if set, is the clock for what the writer stamps itself (stream
	// mtimes, the manifest's finish time): an export of a stored backup
	// gives its snapshot's time, so that building it again gives the same
	// bytes.
	Now func() time.Time
}

// Meta says what an archive holds; it is copied into the manifest.
type Meta struct {
	Source   string
	Kind     string
	BackupID int64
	Version  string // backupd version
	Started  time.Time
}

// Manifest is the archive's table of contents, stored as its last entry.
type Manifest struct {
	Format   int            `json:"format"`
	Source   string         `json:"source"`
	Kind     string         `json:"kind"`
	BackupID int64          `json:"backup_id"`
	Version  string         `json:"version"`
	Started  time.Time      `json:"started"`
	Finished time.Time      `json:"finished"`
	Entries  []Entry        `json:"entries"`
	Bytes    int64          `json:"bytes"` // source bytes: file and stream contents
	Info     map[string]any `json:"info,omitempty"`
}

// Entry is one item of the manifest. A stream is one entry whose content is
// spread over several tar entries, listed in Parts.
type Entry struct {
	Name     string    `json:"name"`
	Type     string    `json:"type"` // file, dir, symlink or stream
	Size     int64     `json:"size"`
	Mode     int64     `json:"mode"`
	ModTime  time.Time `json:"mod_time"`
	Linkname string    `json:"linkname,omitempty"`
	XXH64    string    `json:"xxh64,omitempty"`  // file: its contents' XXH64, 16 hex digits (checksum.go)
	SHA256   string    `json:"sha256,omitempty"` // file in a format 1 archive, instead of XXH64
	Parts    []string  `json:"parts,omitempty"`  // stream
}

// Result is what Close reports about a finished archive.
type Result struct {
	Size     int64  // compressed bytes written to dst
	SHA256   string // lowercase hex SHA-256 of exactly the bytes written to dst
	Manifest Manifest
}

// partName is the tar name of part i of stream name.
func partName(name string, i int) string {
	return fmt.Sprintf("%s.part%06d", name, i)
}

// encoderOptions maps a configured level to zstd settings.
//
// "default" is klauspost's SpeedFastest (about zstd -2): on 2 cores its
// SpeedDefault (about zstd -3) costs 35% more CPU than `tar | zstd -3 -T0`
// and falls behind it, while SpeedFastest keeps up and its archives are
// 1-3% larger (figures in docs/archive.md). "fastest" is the same encoder;
// "better" and "best" step up to SpeedDefault and SpeedBetterCompression.
// SpeedBestCompression is left out: it runs at a few MB/s.
//
// Compression is job-based: the stream is cut into jobs of four windows,
// compressed in parallel, each with the end of the previous job as
// history. The window is 512 KiB instead of zstd's 8 MiB because several
// jobs are in flight and each costs memory: a 2 MiB window put a 1 GiB
// backup at 184 MiB RSS, 512 KiB keeps it near 60 MiB for about 0.1%
// larger archives.
func encoderOptions(opt Options) ([]zstd.EOption, error) {
	var level zstd.EncoderLevel
	switch opt.Level {
	case "fastest", "", "default":
		level = zstd.SpeedFastest
	case "better":
		level = zstd.SpeedDefault
	case "best":
		level = zstd.SpeedBetterCompression
	default:
		return nil, domain.Errorf(domain.EINVALID, "compression level %q is not one of fastest, default, better, best", opt.Level)
	}
	eo := []zstd.EOption{
		zstd.WithEncoderLevel(level),
		zstd.WithWindowSize(windowSize),
		zstd.WithConcurrentBlocks(true),
	}
	if opt.Concurrency > 0 {
		eo = append(eo, zstd.WithEncoderConcurrency(opt.Concurrency))
	}
	return eo, nil
}

const windowSize = 512 << 10

// maxDecoderWindow bounds what a hostile archive can make the reader
// allocate; zstd's own CLI uses at most 8 MiB below --long.
const maxDecoderWindow = 64 << 20

// maxManifestSize bounds the manifest read into memory (about a million
// entries).
const maxManifestSize = 512 << 20
