package repo

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
)

// Entry types.
const (
	TypeFile    = "file"
	TypeDir     = "dir"
	TypeSymlink = "symlink"
)

// Entry is one line of a snapshot's tree: a file, directory or symlink of
// a files source, or the one stream of a dump.
type Entry struct {
	Path  string `json:"path"` // relative to the root, "/"-separated
	Type  string `json:"type"`
	Mode  uint32 `json:"mode"` // Unix permission bits with setuid 04000, setgid 02000, sticky 01000
	MTime int64  `json:"mtime_ns"`
	Size  int64  `json:"size"`
	Link  string `json:"link,omitempty"`
	// Inode is kept for change detection only (with size, mtime and mode).
	Inode  uint64 `json:"inode,omitempty"`
	Chunks []ID   `json:"chunks,omitempty"`
}

// unixMode converts fs.FileMode permission and special bits to Unix ones.
func unixMode(m fs.FileMode) uint32 {
	u := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		u |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		u |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		u |= 0o1000
	}
	return u
}

// FileMode converts Mode back to an fs.FileMode (without the type).
func (e Entry) FileMode() fs.FileMode {
	m := fs.FileMode(e.Mode & 0o777)
	if e.Mode&0o4000 != 0 {
		m |= fs.ModeSetuid
	}
	if e.Mode&0o2000 != 0 {
		m |= fs.ModeSetgid
	}
	if e.Mode&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	return m
}

func (e Entry) check() error {
	if e.Path == "" || !fs.ValidPath(e.Path) || e.Path == "." {
		return fmt.Errorf("bad entry path %q", e.Path)
	}
	switch e.Type {
	case TypeFile, TypeDir, TypeSymlink:
		return nil
	}
	return fmt.Errorf("entry %s: bad type %q", e.Path, e.Type)
}

// comparePaths orders paths as filepath.WalkDir visits them: component by
// component, so "a/z" comes before "a.b". Trees are written in that order,
// which lets a backup walk its parent's tree alongside the directory.
func comparePaths(a, b string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		ca, cb := a[i], b[i]
		if ca == cb {
			continue
		}
		if ca == '/' {
			return -1
		}
		if cb == '/' {
			return 1
		}
		if ca < cb {
			return -1
		}
		return 1
	}
	return len(a) - len(b)
}

// inDir reports whether p is dir itself or below it ("" is the root).
func inDir(p, dir string) bool {
	return dir == "" || p == dir || strings.HasPrefix(p, dir+"/")
}

// parentDir is the directory holding p, "" for the root.
func parentDir(p string) string {
	d := path.Dir(p)
	if d == "." {
		return ""
	}
	return d
}

// Parent yields the entries of a source's previous snapshot in tree
// order, for change detection; Next returns io.EOF at the end.
type Parent interface {
	Next() (Entry, error)
}

// treeDecoder reads a JSON-lines tree.
type treeDecoder struct{ d *json.Decoder }

// NewTreeReader returns a Parent reading a JSON-lines tree from r (a
// FilesCache copy, or a tree read back with the identity).
func NewTreeReader(r io.Reader) Parent {
	return treeDecoder{json.NewDecoder(bufio.NewReaderSize(r, 256<<10))}
}

func (t treeDecoder) Next() (Entry, error) {
	var e Entry
	if err := t.d.Decode(&e); err != nil {
		if errors.Is(err, io.EOF) {
			return e, io.EOF
		}
		return e, fmt.Errorf("decode tree: %w", err)
	}
	return e, nil
}

// parentCursor finds entries of a Parent for paths that arrive in tree
// order, reading it once from start to end.
type parentCursor struct {
	p    Parent
	cur  Entry
	done bool
}

func (c *parentCursor) find(p string) (Entry, bool) {
	if c == nil {
		return Entry{}, false
	}
	for !c.done && (c.cur.Path == "" || comparePaths(c.cur.Path, p) < 0) {
		e, err := c.p.Next()
		if err != nil {
			c.done = true // a damaged cache only costs re-reading files
			break
		}
		c.cur = e
	}
	if !c.done && c.cur.Path == p {
		return c.cur, true
	}
	return Entry{}, false
}
