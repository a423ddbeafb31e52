package main_test

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/backupd/backupd/internal/domain"
	"github.com/backupd/backupd/internal/testdaemon"
)

// keep: 2 leaves the snapshots of the two newest backups; the oldest is
// forgotten and its export dropped, its record stays in the catalog
// without an archive, and saying so is what a download answers.
func TestRetentionKeepsNewest(t *testing.T) {
	d := testdaemon.Start(t, testdaemon.Options{Config: `
sources:
  small:
    kind: command
    command: ["echo", "hello"]
    keep: 2
`})
	first := runBackup(t, d, "small")
	_, first = download(t, d, first) // an export for retention to drop
	second := runBackup(t, d, "small")
	third := runBackup(t, d, "small")
	// Retention runs right after the third backup's record is final.
	waitFor(t, "retention to forget the oldest snapshot and drop its export", func() bool {
		_, err := os.Stat(exportPath(d, first))
		return !slices.Contains(snapshots(t, d), first.Snapshot) && errors.Is(err, os.ErrNotExist)
	})
	if got, want := snapshots(t, d), []string{second.Snapshot, third.Snapshot}; !slices.Equal(got, sorted(want)) {
		t.Fatalf("the repository holds snapshots %v, want those of the two newest backups %v", got, want)
	}
	// The record keeps its history (snapshot id, digest), not its archive.
	got, err := d.Client().Backup(context.Background(), first.ID)
	if err != nil || got.Status != "succeeded" || got.Archive != "" || got.SHA256 != first.SHA256 || got.Snapshot != first.Snapshot {
		t.Fatalf("expired record = %+v, %v", got, err)
	}
	for _, b := range []domain.Backup{second, third} {
		if cur := backup(t, d, b.ID); cur.Archive != b.Archive || cur.Archive == "" {
			t.Fatalf("kept backup %d lost its archive name: %+v", b.ID, cur)
		}
	}
	_, errOut, code := d.Backupctl(context.Background(), "download", itoa(first.ID), "-o", t.TempDir())
	if code != 1 || !strings.Contains(errOut, "removed by the retention (keep rules) of source small") {
		t.Fatalf("download of an expired backup: exit %d, %s", code, errOut)
	}
	if out, _, _ := d.Backupctl(context.Background(), "status", itoa(first.ID)); !strings.Contains(out, "removed by the source's retention") {
		t.Fatalf("status of an expired backup does not say where its archive went:\n%s", out)
	}
	// Exactly the first backup expired, with an event saying so.
	evs, err := d.Client().Events(context.Background(), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var expired []int64
	for _, ev := range evs {
		if ev.Type == domain.EventBackupExpired {
			expired = append(expired, ev.BackupID)
		}
	}
	if len(expired) != 1 || expired[0] != first.ID {
		t.Fatalf("backup.expired events for backups %v, want [%d]", expired, first.ID)
	}
}
