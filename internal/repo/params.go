package repo

import (
	"crypto/rand"
	"encoding/json"
	"fmt"

	"github.com/backupd/backupd/internal/domain"
)

// Format is the repository format this package writes and reads.
const Format = 1

// Chunk sizes. An average of 1 MiB keeps the index of a 1 TB source at
// about a million entries and each chunk worth an object-store range read,
// while a change in a database dump or a large file still costs only a
// megabyte or two of new data; see docs/repository.md.
const (
	DefaultMinChunk = 512 << 10
	DefaultAvgChunk = 1 << 20
	DefaultMaxChunk = 8 << 20
)

// chunkerName is the go-cdc-chunkers algorithm: FastCDC as published,
// whose cut points that library promises not to change within a version
// name. With a key, its Gear table is derived from the key.
const chunkerName = "fastcdc-v1.0.0"

// Params are what a writer needs to know about a repository without
// reading it: the keys and the chunker. Init returns them; the caller keeps
// them (they are secret: whoever has the id key can test whether a known
// file is in the repository). The store keeps a copy in its config object,
// encrypted to the recipients, for disaster recovery.
type Params struct {
	Format     int    `json:"format"`
	RepoID     ID     `json:"repo_id"`
	Encrypted  bool   `json:"encrypted"`
	IDKey      []byte `json:"id_key"`      // 32 bytes: keys the chunk-id hash
	ChunkerKey []byte `json:"chunker_key"` // 32 bytes: derives the chunker's Gear table
	Chunker    string `json:"chunker"`
	MinChunk   int    `json:"min_chunk"`
	AvgChunk   int    `json:"avg_chunk"`
	MaxChunk   int    `json:"max_chunk"`
}

func newParams(encrypted bool) Params {
	p := Params{Format: Format, RepoID: randomID(), Encrypted: encrypted,
		IDKey: make([]byte, 32), ChunkerKey: make([]byte, 32), Chunker: chunkerName,
		MinChunk: DefaultMinChunk, AvgChunk: DefaultAvgChunk, MaxChunk: DefaultMaxChunk}
	rand.Read(p.IDKey)
	rand.Read(p.ChunkerKey)
	return p
}

// Validate reports whether p can be used by this version.
func (p Params) Validate() error {
	switch {
	case p.Format != Format:
		return domain.Errorf(domain.EINVALID, "repository format %d is not supported (this backupd reads format %d)", p.Format, Format)
	case len(p.IDKey) != 32 || len(p.ChunkerKey) != 32:
		return domain.Errorf(domain.EINVALID, "repository parameters lack their keys")
	case p.Chunker != chunkerName:
		return domain.Errorf(domain.EINVALID, "repository chunker %q is not supported", p.Chunker)
	case p.MinChunk < 64 || p.MinChunk >= p.AvgChunk || p.AvgChunk >= p.MaxChunk || p.AvgChunk&(p.AvgChunk-1) != 0:
		return domain.Errorf(domain.EINVALID, "repository chunk sizes %d/%d/%d are not min < avg (a power of two) < max", p.MinChunk, p.AvgChunk, p.MaxChunk)
	}
	return nil
}

// MarshalParams encodes p for the caller to keep (a file in data_dir or
// the catalog).
func MarshalParams(p Params) ([]byte, error) { return json.Marshal(p) }

// UnmarshalParams decodes and validates what MarshalParams returned.
func UnmarshalParams(b []byte) (Params, error) {
	var p Params
	if err := json.Unmarshal(b, &p); err != nil {
		return p, fmt.Errorf("decode repository parameters: %w", err)
	}
	return p, p.Validate()
}
