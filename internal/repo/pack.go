package repo

import (
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"filippo.io/age"
)

// BlobType says what a blob holds.
type BlobType uint8

// Blob types.
const (
	DataBlob BlobType = 0 // a chunk of a file or stream
	TreeBlob BlobType = 1 // a chunk of a snapshot's JSON-lines tree
)

func (t BlobType) String() string {
	if t == TreeBlob {
		return "tree"
	}
	return "data"
}

// PackEntry locates one blob in a pack.
type PackEntry struct {
	ID        ID
	Type      BlobType
	Offset    uint32 // from the start of the pack
	Length    uint32 // as stored (compressed, and sealed when encrypted)
	RawLength uint32 // the chunk's plain size
}

// Pack layout: blobs, header, envelope, trailer. See docs/repository.md.
const (
	packMagic      = "bkpdpack"
	packVersion    = 1
	trailerSize    = 24
	entrySize      = 32 + 1 + 4 + 4 + 4
	flagEncrypted  = 1
	maxPackSize    = 1 << 30
	maxHeaderBytes = 64 << 20
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// packName is the object name of a pack.
func packName(id ID) string { s := id.String(); return "packs/" + s[:2] + "/" + s }

// packBuilder gathers the blobs of one pack in memory.
type packBuilder struct {
	id      ID
	buf     []byte
	entries []PackEntry
	key     []byte
	aead    cipher.AEAD // nil when not encrypting
}

func newPackBuilder(encrypt bool, buf []byte) *packBuilder {
	p := &packBuilder{id: randomID(), buf: buf[:0]}
	if encrypt {
		p.key, p.aead = newDataKey()
	}
	return p
}

// add appends a compressed chunk, sealing it when encrypting.
func (p *packBuilder) add(id ID, typ BlobType, rawLen int, z []byte) PackEntry {
	off := len(p.buf)
	if p.aead != nil {
		p.buf = seal(p.buf, p.aead, z, blobAD(p.id, uint32(len(p.entries))))
	} else {
		p.buf = append(p.buf, z...)
	}
	e := PackEntry{ID: id, Type: typ, Offset: uint32(off), Length: uint32(len(p.buf) - off), RawLength: uint32(rawLen)}
	p.entries = append(p.entries, e)
	return e
}

// finish appends the header, the envelope and the trailer and returns the
// pack's bytes; the data key is dropped.
func (p *packBuilder) finish(recipients []age.Recipient) ([]byte, error) {
	hdr := encodeHeader(p.id, p.entries)
	start := len(p.buf)
	var flags byte
	var envLen int
	if p.aead != nil {
		flags = flagEncrypted
		p.buf = seal(p.buf, p.aead, hdr, headerAD(p.id))
		hdrEnd := len(p.buf)
		env, err := sealObject(recipients, p.key)
		if err != nil {
			return nil, fmt.Errorf("seal pack key: %w", err)
		}
		p.buf = append(p.buf, env...)
		envLen = len(p.buf) - hdrEnd
	} else {
		p.buf = append(p.buf, hdr...)
	}
	hdrLen := len(p.buf) - start - envLen
	t := make([]byte, trailerSize)
	copy(t, packMagic)
	t[8], t[9] = packVersion, flags
	binary.LittleEndian.PutUint32(t[12:], uint32(hdrLen))
	binary.LittleEndian.PutUint32(t[16:], uint32(envLen))
	binary.LittleEndian.PutUint32(t[20:], crc32.Checksum(p.buf[start:], crcTable))
	p.buf = append(p.buf, t...)
	p.key, p.aead = nil, nil
	return p.buf, nil
}

func encodeHeader(pack ID, entries []PackEntry) []byte {
	b := make([]byte, 0, 36+len(entries)*entrySize)
	b = append(b, pack[:]...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(entries)))
	for _, e := range entries {
		b = append(b, e.ID[:]...)
		b = append(b, byte(e.Type))
		b = binary.LittleEndian.AppendUint32(b, e.Offset)
		b = binary.LittleEndian.AppendUint32(b, e.Length)
		b = binary.LittleEndian.AppendUint32(b, e.RawLength)
	}
	return b
}

func decodeHeader(pack ID, b []byte, blobsEnd int64) ([]PackEntry, error) {
	if len(b) < 36 || ID(b[:32]) != pack {
		return nil, errors.New("header names another pack")
	}
	n := int(binary.LittleEndian.Uint32(b[32:]))
	if len(b) != 36+n*entrySize {
		return nil, fmt.Errorf("header of %d bytes cannot hold %d entries", len(b), n)
	}
	entries := make([]PackEntry, n)
	for i := range entries {
		r := b[36+i*entrySize:]
		e := PackEntry{ID: ID(r[:32]), Type: BlobType(r[32]), Offset: binary.LittleEndian.Uint32(r[33:]),
			Length: binary.LittleEndian.Uint32(r[37:]), RawLength: binary.LittleEndian.Uint32(r[41:])}
		if e.Type > TreeBlob || int64(e.Offset)+int64(e.Length) > blobsEnd {
			return nil, fmt.Errorf("header entry %d is out of bounds", i)
		}
		entries[i] = e
	}
	return entries, nil
}

// trailer is the fixed end of a pack.
type trailer struct {
	encrypted      bool
	hdrLen, envLen int64
	crc            uint32
}

func parseTrailer(t []byte, size int64) (trailer, error) {
	if len(t) != trailerSize || string(t[:8]) != packMagic {
		return trailer{}, errors.New("no pack trailer (not a pack, or truncated)")
	}
	if t[8] != packVersion {
		return trailer{}, fmt.Errorf("pack version %d is not supported", t[8])
	}
	tr := trailer{encrypted: t[9]&flagEncrypted != 0, hdrLen: int64(binary.LittleEndian.Uint32(t[12:])),
		envLen: int64(binary.LittleEndian.Uint32(t[16:])), crc: binary.LittleEndian.Uint32(t[20:])}
	if tr.hdrLen+tr.envLen+trailerSize > size || tr.hdrLen+tr.envLen > maxHeaderBytes {
		return trailer{}, errors.New("pack trailer is out of bounds")
	}
	return tr, nil
}

// packMeta is what a reader knows about one pack after reading its end.
type packMeta struct {
	id      ID
	size    int64
	entries []PackEntry
	aead    cipher.AEAD // nil when not encrypted, or without the identity
}

// parsePackEnd decodes a pack's end: tail holds at least its header,
// envelope and trailer. Without ids an encrypted pack is checked for its
// trailer and CRC only, and its entries stay unknown.
func parsePackEnd(id ID, size int64, tail []byte, ids []age.Identity, encrypted bool) (packMeta, error) {
	tr, err := parseTrailer(tail[len(tail)-trailerSize:], size)
	if err != nil {
		return packMeta{}, err
	}
	need := tr.hdrLen + tr.envLen + trailerSize
	if int64(len(tail)) < need {
		return packMeta{}, errors.New("pack end is shorter than its trailer says")
	}
	end := tail[int64(len(tail))-need : len(tail)-trailerSize]
	if crc32.Checksum(end, crcTable) != tr.crc {
		return packMeta{}, errors.New("pack header checksum mismatch (damaged)")
	}
	if tr.encrypted != encrypted {
		return packMeta{}, fmt.Errorf("pack encrypted=%v in a repository with encrypted=%v", tr.encrypted, encrypted)
	}
	m := packMeta{id: id, size: size}
	hdr := end[:tr.hdrLen]
	if tr.encrypted {
		if len(ids) == 0 {
			return m, nil
		}
		if m.aead, err = openEnvelope(ids, end[tr.hdrLen:]); err != nil {
			return packMeta{}, fmt.Errorf("pack key: %w", err)
		}
		if hdr, err = unseal(nil, m.aead, hdr, headerAD(id)); err != nil {
			return packMeta{}, fmt.Errorf("pack header: %w", err)
		}
	}
	m.entries, err = decodeHeader(id, hdr, size-need)
	return m, err
}
