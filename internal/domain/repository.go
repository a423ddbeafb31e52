package domain

import "time"

// PruneResult is what a prune of the repository did.
type PruneResult struct {
	// Marked packs no snapshot needed: deleted by a later prune once the
	// margin has passed and no backup that began before is running.
	Marked int `json:"packs_marked"`
	// Deleted is the packs removed (marked ones and leftovers of crashed
	// backups), BytesFreed their size.
	Deleted    int   `json:"packs_deleted"`
	Orphans    int   `json:"orphans_deleted"`
	BytesFreed int64 `json:"bytes_reclaimed"`
	// RepositoryBytes is the size of the packs left.
	RepositoryBytes int64 `json:"repository_bytes"`
}

// CheckResult is what a check of the repository found.
type CheckResult struct {
	OK bool `json:"ok"`
	// ReadData says whether every blob was read and checked, not only
	// every pack's end and the index.
	ReadData bool `json:"read_data"`
	// Limited, when set, says what could not be checked and why (an
	// encrypted repository without the identity).
	Limited  string   `json:"limited,omitempty"`
	Problems []string `json:"problems,omitempty"`
}

// TreeEntry is one entry of a snapshot's tree, as the API lists it.
type TreeEntry struct {
	Name  string    `json:"name"`
	Path  string    `json:"path"`
	Type  string    `json:"type"` // file, dir or symlink
	Size  int64     `json:"size"`
	Mode  uint32    `json:"mode"` // permission bits with setuid, setgid, sticky
	MTime time.Time `json:"mtime"`
	Link  string    `json:"link,omitempty"`
}
