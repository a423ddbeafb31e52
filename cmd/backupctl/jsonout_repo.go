package main

import (
	"time"

	"github.com/backupd/backupd/internal/domain"
	"github.com/backupd/backupd/internal/repo"
)

// The -o json shapes of the repository's commands: ls, prune, check
// (docs/cli.md).

// treeJSON is ls's answer: the entries directly inside path.
type treeJSON struct {
	BackupID int64           `json:"backup_id"`
	Snapshot string          `json:"snapshot"`
	Path     string          `json:"path"`
	Entries  []treeEntryJSON `json:"entries"`
}

// treeEntryJSON is one entry of a snapshot's tree.
type treeEntryJSON struct {
	Name  string    `json:"name"`
	Path  string    `json:"path"`
	Type  string    `json:"type"`
	Size  int64     `json:"size"`
	Mode  uint32    `json:"mode"`
	MTime time.Time `json:"mtime"`
	Link  string    `json:"link"`
}

func toTreeEntriesJSON(list []domain.TreeEntry) []treeEntryJSON {
	return mapAll(list, func(e domain.TreeEntry) treeEntryJSON { return treeEntryJSON(e) })
}

// snapshotJSON is one snapshot of ls --repo LOCATION.
type snapshotJSON struct {
	ID         string    `json:"id"`
	BackupID   int64     `json:"backup_id"`
	Source     string    `json:"source"`
	Kind       string    `json:"kind"`
	Host       string    `json:"host"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
	Size       int64     `json:"size_bytes"`
	Entries    int64     `json:"entries"`
}

func toSnapshotJSON(s repo.Snapshot) snapshotJSON {
	return snapshotJSON{ID: s.ID.String(), BackupID: s.BackupID, Source: s.Source, Kind: s.Kind, Host: s.Host,
		StartedAt: s.StartedAt, FinishedAt: s.FinishedAt, Size: s.Size, Entries: s.Entries}
}

// pruneJSON is what prune did.
type pruneJSON struct {
	Marked          int   `json:"packs_marked"`
	Deleted         int   `json:"packs_deleted"`
	Orphans         int   `json:"orphans_deleted"`
	BytesFreed      int64 `json:"bytes_reclaimed"`
	RepositoryBytes int64 `json:"repository_bytes"`
}

// checkJSON is what check found.
type checkJSON struct {
	OK       bool     `json:"ok"`
	ReadData bool     `json:"read_data"`
	Limited  string   `json:"limited"`
	Problems []string `json:"problems"`
}

func toCheckJSON(r domain.CheckResult) checkJSON {
	probs := r.Problems
	if probs == nil {
		probs = []string{}
	}
	return checkJSON{OK: r.OK, ReadData: r.ReadData, Limited: r.Limited, Problems: probs}
}
