package repository

import (
	"context"
	"encoding/json"
	"errors"
	"strings"

	"github.com/backupd/backupd/internal/domain"
	"github.com/backupd/backupd/internal/repo"
)

// Forget removes an expired backup's snapshot from the store and the
// index, and its export (runner.Repository). Prune reclaims its packs.
func (x *Repository) Forget(ctx context.Context, e domain.Expired) error {
	id, err := repo.ParseID(e.Snapshot)
	if err != nil {
		return err
	}
	if err := x.r.Forget(ctx, id); err != nil {
		return err
	}
	x.exports.drop(e.Archive)
	return nil
}

// ForgetBackups forgets the snapshots the index records for these
// backups (runner.Repository): at start, those of backups a crash
// interrupted after their snapshot was committed but before their record
// said so, which no record points to and retention would never reach.
func (x *Repository) ForgetBackups(ctx context.Context, ids []int64) error {
	want := map[int64]bool{}
	for _, id := range ids {
		want[id] = true
	}
	snaps, err := x.r.Index().Snapshots(ctx)
	if err != nil {
		return err
	}
	for _, s := range snaps {
		if !want[s.BackupID] {
			continue
		}
		if err := x.r.Forget(ctx, s.ID); err != nil {
			return err
		}
		x.log.Info("forgot the snapshot of an interrupted backup", "backup", s.BackupID, "snapshot", s.ID)
	}
	return nil
}

// Prune runs the repository's two-phase prune, one at a time, and, when
// it marked or deleted anything, records a repo.pruned event with the
// outcome. It is safe while backups run: their leases keep what they may
// reference (docs/repository.md).
func (x *Repository) Prune(ctx context.Context) (domain.PruneResult, error) {
	x.pruneMu.Lock()
	defer x.pruneMu.Unlock()
	st, err := x.r.Prune(ctx, repo.PruneOptions{Margin: x.opt.PruneMargin})
	res := domain.PruneResult{Marked: st.Marked, Deleted: st.Deleted + st.Orphans, Orphans: st.Orphans, BytesFreed: st.BytesFreed}
	if err != nil {
		return res, err
	}
	if res.RepositoryBytes, err = x.db.RepoBytes(ctx); err != nil {
		return res, err
	}
	if res.Marked == 0 && res.Deleted == 0 {
		return res, nil
	}
	data, err := json.Marshal(res)
	if err != nil {
		return res, err
	}
	if _, err := x.db.AppendEvent(context.WithoutCancel(ctx), domain.EventRepoPruned, data); err != nil {
		return res, err
	}
	x.log.Info("pruned the repository", "packs_marked", res.Marked, "packs_deleted", res.Deleted,
		"orphans", res.Orphans, "bytes_reclaimed", res.BytesFreed, "repository_bytes", res.RepositoryBytes)
	return res, nil
}

// Check checks the repository. With readData every blob is read and
// checked, which an encrypted repository allows only with the identity;
// without it, the check covers what the library can check without
// decrypting: every pack's end (trailer, CRC) against the index.
func (x *Repository) Check(ctx context.Context, readData bool) (domain.CheckResult, error) {
	res := domain.CheckResult{ReadData: readData}
	if !x.CanRead() {
		if readData {
			return res, errNoIdentity("checking the repository's data (read_data)")
		}
		res.Limited = "the repository is encrypted and this daemon has no identity: checked every pack's trailer and checksum against the index, not the snapshots' trees or the data"
	}
	err := x.r.Check(ctx, readData)
	if err != nil && ctx.Err() != nil {
		return res, ctx.Err()
	}
	res.OK = err == nil
	res.Problems = problems(err)
	return res, nil
}

// problems lists the problems a Check error joins.
func problems(err error) []string {
	if err == nil {
		return nil
	}
	if j, ok := errors.Unwrap(err).(interface{ Unwrap() []error }); ok {
		var out []string
		for _, e := range j.Unwrap() {
			out = append(out, e.Error())
		}
		return out
	}
	return []string{strings.TrimPrefix(err.Error(), "repository check found ")}
}

// Tree lists the entries directly inside dir ("" for the root) of backup
// b's snapshot.
func (x *Repository) Tree(ctx context.Context, b domain.Backup, dir string) ([]domain.TreeEntry, error) {
	snap, err := x.snapshot(ctx, b, "listing a backup's tree")
	if err != nil {
		return nil, err
	}
	dir = strings.Trim(dir, "/")
	out := []domain.TreeEntry{}
	found := dir == ""
	err = x.r.Walk(ctx, snap, func(e repo.Entry) error {
		if e.Path == dir {
			found = true
			if e.Type != repo.TypeDir {
				return domain.Errorf(domain.EINVALID, "%s in backup %d is a %s, not a directory", dir, b.ID, e.Type)
			}
		}
		if parent(e.Path) == dir {
			out = append(out, treeEntry(e))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, domain.Errorf(domain.ENOTFOUND, "backup %d has no directory %s", b.ID, dir)
	}
	return out, nil
}

func parent(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[:i]
	}
	return ""
}

func treeEntry(e repo.Entry) domain.TreeEntry {
	name := e.Path[strings.LastIndexByte(e.Path, '/')+1:]
	return domain.TreeEntry{Name: name, Path: e.Path, Type: e.Type, Size: e.Size, Mode: e.Mode,
		MTime: timeOf(e.MTime), Link: e.Link}
}
