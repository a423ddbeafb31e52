package repo

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Meta describes the backup a snapshot comes from.
type Meta struct {
	Source    string    `json:"source"`
	Kind      string    `json:"kind"` // files, postgres, mysql, sqlite, command
	BackupID  int64     `json:"backup_id"`
	Host      string    `json:"host"`
	Version   string    `json:"version"` // of backupd
	StartedAt time.Time `json:"started_at"`
}

// Snapshot is the object snapshots/<id>: one backup's metadata and the
// chunks of its tree.
type Snapshot struct {
	Format int `json:"format"`
	ID     ID  `json:"id"`
	RepoID ID  `json:"repo_id"`
	Meta
	FinishedAt time.Time `json:"finished_at"`
	// Size is the logical size: the bytes of every file or stream.
	Size    int64 `json:"size"`
	Entries int64 `json:"entries"`
	// Info holds the manifest facts restore drills check (row counts,
	// checksums), as the source gave them.
	Info     json.RawMessage `json:"info,omitempty"`
	Tree     []ID            `json:"tree"`
	TreeSize int64           `json:"tree_size"`
}

func snapshotName(id ID) string { return "snapshots/" + id.String() }

// Snapshots reads every snapshot in the store, oldest first.
func (r *Repo) Snapshots(ctx context.Context) ([]Snapshot, error) {
	var ids []ID
	err := r.be.List(ctx, "snapshots/", func(o ObjectInfo) error {
		id, err := ParseID(strings.TrimPrefix(o.Name, "snapshots/"))
		if err == nil {
			ids = append(ids, id)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var out []Snapshot
	for _, id := range ids {
		s, err := r.Snapshot(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b Snapshot) int { return a.StartedAt.Compare(b.StartedAt) })
	return out, nil
}

// Snapshot reads one snapshot from the store.
func (r *Repo) Snapshot(ctx context.Context, id ID) (Snapshot, error) {
	var s Snapshot
	data, err := readAll(ctx, r.be, snapshotName(id))
	if err != nil {
		return s, fmt.Errorf("read snapshot %s: %w", id, err)
	}
	plain, err := openObject(r.ids, data, r.p.Encrypted)
	if err != nil {
		return s, fmt.Errorf("snapshot %s: %w", id, err)
	}
	if err := json.Unmarshal(plain, &s); err != nil {
		return s, fmt.Errorf("decode snapshot %s: %w", id, err)
	}
	if s.ID != id || s.RepoID != r.p.RepoID || s.Format != Format {
		return s, fmt.Errorf("snapshot %s: its content names snapshot %s of repository %s (format %d)", id, s.ID, s.RepoID, s.Format)
	}
	return s, nil
}

// Forget deletes a snapshot from the store, then from the index, so that
// a crash in between leaves a record that only keeps packs alive, never a
// snapshot in the store whose packs prune may delete.
func (r *Repo) Forget(ctx context.Context, id ID) error {
	if err := r.be.Remove(ctx, snapshotName(id)); err != nil {
		return fmt.Errorf("forget snapshot %s: %w", id, err)
	}
	if err := r.idx.ForgetSnapshot(ctx, id); err != nil {
		return fmt.Errorf("forget snapshot %s: %w", id, err)
	}
	return nil
}
