package archive

import (
	"archive/tar"
	"context"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"slices"
	"strings"
)

func (st *scanState) readManifest(r io.Reader) error {
	body, err := io.ReadAll(io.LimitReader(r, maxManifestSize+1))
	if err != nil {
		return fmt.Errorf("read manifest: %w", err)
	}
	if len(body) > maxManifestSize {
		return fmt.Errorf("manifest is over %d MiB", maxManifestSize>>20)
	}
	var m Manifest
	if err := json.Unmarshal(body, &m); err != nil {
		return fmt.Errorf("decode manifest: %w", err)
	}
	if m.Format < 1 || m.Format > FormatVersion {
		return fmt.Errorf("manifest format %d is not supported (this backupd reads formats 1 to %d)", m.Format, FormatVersion)
	}
	st.manifest = &m
	return nil
}

// verify checks that the archive held exactly what the manifest lists.
// Problems are reported together, a few at a time, so a person sees the
// extent of the damage.
func verify(m Manifest, got map[string]*seen) error {
	var probs []string
	listed := make(map[string]bool, len(m.Entries))
	for _, e := range m.Entries {
		listed[e.Name] = true
		g := got[e.Name]
		switch {
		case g == nil:
			probs = append(probs, fmt.Sprintf("%s: listed in the manifest but missing from the archive", e.Name))
		case g.typ != e.Type:
			probs = append(probs, fmt.Sprintf("%s: is a %s in the archive but a %s in the manifest", e.Name, g.typ, e.Type))
		case g.size != e.Size:
			probs = append(probs, fmt.Sprintf("%s: size %d, manifest says %d", e.Name, g.size, e.Size))
		case e.Type == TypeFile && e.XXH64 == "" && e.SHA256 == "":
			probs = append(probs, fmt.Sprintf("%s: the manifest has no checksum for it", e.Name))
		case e.Type == TypeFile && e.XXH64 != "" && g.xxh64 != e.XXH64:
			probs = append(probs, fmt.Sprintf("%s: XXH64 %s, manifest says %s", e.Name, g.xxh64, e.XXH64))
		case g.linkname != e.Linkname:
			probs = append(probs, fmt.Sprintf("%s: links to %q, manifest says %q", e.Name, g.linkname, e.Linkname))
		case e.Type == TypeStream && !slices.Equal(g.parts, e.Parts):
			probs = append(probs, fmt.Sprintf("%s: has parts %v, manifest says %v", e.Name, g.parts, e.Parts))
		}
	}
	for name := range got {
		if !listed[name] {
			probs = append(probs, fmt.Sprintf("%s: in the archive but not in the manifest", name))
		}
	}
	if len(probs) == 0 {
		return nil
	}
	slices.Sort(probs)
	const show = 5
	msg := strings.Join(probs[:min(show, len(probs))], "; ")
	if len(probs) > show {
		msg += fmt.Sprintf("; and %d more", len(probs)-show)
	}
	return fmt.Errorf("archive does not match its manifest (%d problems): %s", len(probs), msg)
}

// discard is the sink of ReadManifest: it reads nothing itself; scan
// drains and hashes every entry.
type discard struct{}

func (discard) dir(string, *tar.Header) error             { return nil }
func (discard) symlink(string, *tar.Header) error         { return nil }
func (discard) file(string, *tar.Header, io.Reader) error { return nil }
func (discard) streamPart(string, int, io.Reader) error   { return nil }
func (discard) finish(Manifest) error                     { return nil }

// hashReader counts what is read through it and hashes it into h, if h is
// set (streams are counted only).
type hashReader struct {
	r io.Reader
	h hash.Hash
	n int64
}

func (hr *hashReader) Read(b []byte) (int, error) {
	n, err := hr.r.Read(b)
	if hr.h != nil {
		hr.h.Write(b[:n])
	}
	hr.n += int64(n)
	return n, err
}

// drain reads what the sink left unread, so it is counted too.
func (hr *hashReader) drain() error {
	_, err := io.Copy(io.Discard, hr)
	return err
}

func (hr *hashReader) sum() string { return hexSum(hr.h) }

// ctxReader stops reading once ctx is done, so a long extract can be
// canceled between two reads.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (cr *ctxReader) Read(b []byte) (int, error) {
	if err := cr.ctx.Err(); err != nil {
		return 0, err
	}
	return cr.r.Read(b)
}
