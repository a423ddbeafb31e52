package main

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/backupd/backupd/internal/repo"
)

// snapshotPrefix is what an ID argument must look like to be taken for
// the start of a snapshot id.
var snapshotPrefix = regexp.MustCompile(`^[0-9a-f]{8,64}$`)

// findSnapshot reads the snapshots in the store and returns the one arg
// names: the backup id it was made by, or (at least 8 hex digits) the
// start of its snapshot id.
func findSnapshot(ctx context.Context, r *repo.Repo, arg string) (repo.Snapshot, error) {
	backupID, numErr := strconv.ParseInt(arg, 10, 64)
	if (numErr != nil || backupID <= 0) && !snapshotPrefix.MatchString(arg) {
		return repo.Snapshot{}, usageErrorf("%q is neither a backup id (a positive integer) nor the start of a snapshot id (8 to 64 lowercase hex digits)", arg)
	}
	all, err := r.Snapshots(ctx)
	if err != nil {
		return repo.Snapshot{}, err
	}
	var byBackup, byID []repo.Snapshot
	for _, s := range all {
		if numErr == nil && s.BackupID == backupID {
			byBackup = append(byBackup, s)
		}
		if strings.HasPrefix(s.ID.String(), arg) {
			byID = append(byID, s)
		}
	}
	match := byBackup
	if len(match) == 0 && snapshotPrefix.MatchString(arg) {
		match = byID
	}
	switch len(match) {
	case 1:
		return match[0], nil
	case 0:
		return repo.Snapshot{}, fmt.Errorf("the repository holds no snapshot of backup %s among its %d (backupctl ls --repo LOCATION lists them)", arg, len(all))
	}
	var names []string
	for _, s := range match {
		names = append(names, fmt.Sprintf("%s (backup %d of %s, %s)", s.ID.String()[:12], s.BackupID, s.Source, s.StartedAt.Format("2006-01-02 15:04")))
	}
	return repo.Snapshot{}, usageErrorf("%s names %d snapshots: %s; give more of the snapshot id", arg, len(match), strings.Join(names, ", "))
}
