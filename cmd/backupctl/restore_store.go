package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/backupd/backupd/internal/archive"
	"github.com/backupd/backupd/internal/repo"
	"github.com/backupd/backupd/internal/source"
)

// restoreFromStore restores from the repository alone (--repo): no
// daemon, no catalog.
func (a *app) restoreFromStore(ctx context.Context, arg string, f restoreFlags) error {
	var srv source.Server
	var db string
	var err error
	if f.toDSN != "" {
		if srv, db, err = source.ParseDSN(f.toDSN); err != nil {
			return usageErrorf("--to-dsn: %v", err)
		}
	}
	r, err := f.store.open(ctx)
	if err != nil {
		return err
	}
	defer r.Close()
	s, err := findSnapshot(ctx, r, arg)
	if err != nil {
		return err
	}
	if f.toDSN != "" {
		return a.loadFromStore(ctx, r, s, srv, db, f)
	}
	n, size, err := plan(ctx, r, s, f.paths)
	if err != nil {
		return err
	}
	if err := r.Restore(ctx, s, f.to, repo.RestoreOptions{Paths: f.paths}); err != nil {
		return err
	}
	a.printf("restored backup %d of %s (%s, %d entries, %s) from snapshot %s into %s, every chunk checked\n",
		s.BackupID, s.Source, s.Kind, n, humanBytes(size), s.ID.String()[:12], f.to)
	return nil
}

// plan counts what paths select in the snapshot, before anything is
// written, and fails for a path that is not there.
func plan(ctx context.Context, r *repo.Repo, s repo.Snapshot, paths []string) (int, int64, error) {
	var n int
	var size int64
	hit := make([]bool, len(paths))
	err := r.Walk(ctx, s, func(e repo.Entry) error {
		if !archive.Selected(e.Path, paths) {
			return nil
		}
		n++
		size += e.Size
		for i, p := range paths {
			hit[i] = hit[i] || archive.Selected(e.Path, []string{p})
		}
		return nil
	})
	if err != nil {
		return 0, 0, err
	}
	var missing []string
	for i, p := range paths {
		if !hit[i] {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		return 0, 0, fmt.Errorf("backup %d has no %s (backupctl ls %d --repo ... lists what it holds)", s.BackupID, strings.Join(missing, ", "), s.BackupID)
	}
	return n, size, nil
}

// loadFromStore streams a dump from the repository into the restore
// tool: repo.Dump checks every chunk as it goes.
func (a *app) loadFromStore(ctx context.Context, r *repo.Repo, s repo.Snapshot, srv source.Server, db string, f restoreFlags) error {
	if s.Kind != srv.Kind {
		return usageErrorf("backup %d is a %s backup; --to-dsn names a %s database", s.BackupID, s.Kind, srv.Kind)
	}
	root, err := r.Ls(ctx, s, "")
	if err != nil {
		return err
	}
	var names []string
	for _, e := range root {
		if n, ok := strings.CutSuffix(e.Path, dumpSuffix(srv.Kind)); ok && e.Type == repo.TypeFile {
			names = append(names, n)
		}
	}
	name, err := pickName(names, f.database)
	if err != nil {
		return err
	}
	if err := checkEmpty(ctx, srv, db, f.force); err != nil {
		return err
	}
	err = loadDump(ctx, srv, db, f.force, func(ctx context.Context, w io.WriteCloser) error {
		if err := r.Dump(ctx, s, name+dumpSuffix(srv.Kind), w); err != nil {
			return err
		}
		return w.Close()
	})
	if err != nil {
		return err
	}
	var info map[string]any
	json.Unmarshal(s.Info, &info)
	a.printLoaded(info, name, s.BackupID, db, srv)
	return nil
}
