package archive

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"regexp"
	"strconv"
	"strings"

	"github.com/klauspost/compress/zstd"
)

// sink receives the entries of an archive as scan reads them. Extract
// writes them to disk; ReadManifest throws them away.
type sink interface {
	dir(name string, hdr *tar.Header) error
	symlink(name string, hdr *tar.Header) error
	file(name string, hdr *tar.Header, r io.Reader) error
	// streamPart appends part i of stream name; part 0 starts it.
	streamPart(name string, i int, r io.Reader) error
	// finish runs after the manifest has been verified.
	finish(m Manifest) error
}

// seen is what scan measured of one entry, to check against the manifest.
type seen struct {
	typ      string
	size     int64
	xxh64    string // files; format 1 entries (SHA-256) are checked by size
	linkname string
	parts    []string
}

var partRE = regexp.MustCompile(`^(.+)\.part([0-9]{6})$`)

// ReadManifest reads a whole archive stream, checks every entry against
// the manifest, and returns the manifest. It fails if the archive is
// truncated, corrupt, or has no manifest.
func ReadManifest(r io.Reader) (Manifest, error) {
	return scan(context.Background(), r, discard{})
}

// scan reads the archive from r, hands each entry to s, and verifies sizes
// and hashes against the manifest, which must be the last entry.
func scan(ctx context.Context, r io.Reader, s sink) (Manifest, error) {
	zr, err := zstd.NewReader(r, zstd.WithDecoderMaxWindow(maxDecoderWindow), zstd.WithDecoderConcurrency(2))
	if err != nil {
		return Manifest{}, fmt.Errorf("start zstd: %w", err)
	}
	defer zr.Close()
	in := &ctxReader{ctx: ctx, r: zr}
	tr := tar.NewReader(in)
	st := &scanState{s: s, seen: make(map[string]*seen)}
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return Manifest{}, readErr(ctx, "read tar", err)
		}
		if st.manifest != nil {
			return Manifest{}, fmt.Errorf("archive has entry %s after the manifest", hdr.Name)
		}
		if err := st.entry(hdr, tr); err != nil {
			return Manifest{}, readErr(ctx, "", err)
		}
	}
	// Read the zstd stream to its end so its checksum is verified even
	// when only the bytes after the tar trailer are damaged.
	if _, err := io.Copy(io.Discard, in); err != nil {
		return Manifest{}, readErr(ctx, "read zstd", err)
	}
	if st.manifest == nil {
		return Manifest{}, errors.New("archive has no manifest: it is truncated or was not made by backupd")
	}
	if err := verify(*st.manifest, st.seen); err != nil {
		return Manifest{}, err
	}
	if err := s.finish(*st.manifest); err != nil {
		return Manifest{}, err
	}
	return *st.manifest, nil
}

// readErr prefers the context's error, and says what was being read.
func readErr(ctx context.Context, what string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		err = fmt.Errorf("%w (the archive is truncated)", err)
	}
	if what == "" {
		return err
	}
	return fmt.Errorf("%s: %w (the archive is damaged)", what, err)
}

type scanState struct {
	s        sink
	seen     map[string]*seen
	order    []string
	stream   *seen // the stream whose parts are being read
	manifest *Manifest
}

func (st *scanState) entry(hdr *tar.Header, r io.Reader) error {
	name := strings.TrimSuffix(hdr.Name, "/")
	if !fs.ValidPath(name) || name == "." {
		return fmt.Errorf("archive entry %q is not a clean relative path: refusing it", hdr.Name)
	}
	if name == ManifestName {
		return st.readManifest(r)
	}
	if _, dup := st.seen[name]; dup {
		return fmt.Errorf("archive entry %s appears twice", name)
	}
	isPart := hdr.Typeflag == tar.TypeReg && hdr.PAXRecords["comment"] == streamMarker
	if !isPart {
		st.stream = nil
	}
	switch {
	case isPart:
		return st.part(name, r)
	case hdr.Typeflag == tar.TypeDir:
		st.add(name, &seen{typ: TypeDir})
		return st.s.dir(name, hdr)
	case hdr.Typeflag == tar.TypeSymlink:
		st.add(name, &seen{typ: TypeSymlink, linkname: hdr.Linkname})
		return st.s.symlink(name, hdr)
	case hdr.Typeflag == tar.TypeReg:
		hr := &hashReader{r: r, h: newFileHash()}
		if err := st.s.file(name, hdr, hr); err != nil {
			return err
		}
		if err := hr.drain(); err != nil {
			return fmt.Errorf("read %s: %w", name, err)
		}
		st.add(name, &seen{typ: TypeFile, size: hr.n, xxh64: hr.sum()})
		return nil
	}
	return fmt.Errorf("archive entry %s has unsupported tar type %q", name, hdr.Typeflag)
}

func (st *scanState) add(name string, e *seen) {
	st.seen[name] = e
	st.order = append(st.order, name)
}

// part handles one part of a stream. Parts of one stream are consecutive
// and numbered from 0.
func (st *scanState) part(name string, r io.Reader) error {
	m := partRE.FindStringSubmatch(name)
	if m == nil {
		return fmt.Errorf("archive entry %s is marked as a stream part but is not named like one", name)
	}
	stream := m[1]
	i, _ := strconv.Atoi(m[2])
	switch {
	case i == 0:
		if _, dup := st.seen[stream]; dup {
			return fmt.Errorf("archive stream %s appears twice", stream)
		}
		st.stream = &seen{typ: TypeStream}
		st.add(stream, st.stream)
	case st.stream == nil || st.seen[stream] != st.stream || len(st.stream.parts) != i:
		return fmt.Errorf("archive stream part %s is out of order", name)
	}
	hr := &hashReader{r: r}
	if err := st.s.streamPart(stream, i, hr); err != nil {
		return err
	}
	if err := hr.drain(); err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	st.stream.parts = append(st.stream.parts, name)
	st.stream.size += hr.n
	return nil
}
