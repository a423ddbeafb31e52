package repo

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"

	"github.com/zeebo/blake3"

	"github.com/backupd/backupd/internal/domain"
)

// ID names a chunk (the keyed BLAKE3 hash of its plain bytes), a pack or a
// snapshot (32 random bytes).
type ID [32]byte

// String is the ID in lowercase hex, as it appears in object names.
func (id ID) String() string { return hex.EncodeToString(id[:]) }

// MarshalText encodes the ID as hex.
func (id ID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText decodes a hex ID.
func (id *ID) UnmarshalText(b []byte) error {
	p, err := ParseID(string(b))
	if err != nil {
		return err
	}
	*id = p
	return nil
}

// ParseID decodes a hex ID.
func ParseID(s string) (ID, error) {
	var id ID
	if len(s) != 2*len(id) {
		return id, domain.Errorf(domain.EINVALID, "bad id %q: want %d hex digits", s, 2*len(id))
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return id, domain.Errorf(domain.EINVALID, "bad id %q: %v", s, err)
	}
	return id, nil
}

// randomID draws a new pack or snapshot id.
func randomID() ID {
	var id ID
	rand.Read(id[:]) // never fails (crypto/rand since Go 1.24)
	return id
}

// hasher computes chunk ids: BLAKE3 in keyed mode with the repository's
// id key, so an id tells nothing about the content to whoever lacks it.
// blake3's state is over 8 KiB: made afresh for every id, as it was, the
// hashers were 2.5 GB of garbage in a backup of 200,000 small files (two
// ids per file, its chunk and its tree line), which kept the collector
// busy and the heap large. They are pooled and reset instead.
type hasher struct{ pool sync.Pool }

func newHasher(key []byte) (*hasher, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("id key has %d bytes, want 32", len(key))
	}
	k := bytes.Clone(key)
	h := &hasher{}
	h.pool.New = func() any {
		b, _ := blake3.NewKeyed(k) // the key length is checked above
		return b
	}
	return h, nil
}

// sum returns the id of data; it is safe for concurrent use.
func (h *hasher) sum(data []byte) ID {
	b := h.pool.Get().(*blake3.Hasher)
	b.Write(data)
	var id ID
	b.Sum(id[:0])
	b.Reset()
	h.pool.Put(b)
	return id
}
