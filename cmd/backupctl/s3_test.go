package main_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/backupd/backupd/internal/client"
	"github.com/backupd/backupd/internal/miniotest"
	"github.com/backupd/backupd/internal/testdaemon"
)

// With storage.s3, backups live in a real MinIO bucket, in the repository
// under the prefix's repo/: a backup adds its packs and its snapshot,
// downloads of its export resume, the drill and a restore read the
// bucket, retention forgets the older snapshot, and an upload a crash
// left behind is aborted at the next start.
func TestArchivesInS3(t *testing.T) {
	srv := miniotest.Start(t)
	data := t.TempDir()
	big := make([]byte, 40<<20) // random: about three packs, each a multipart upload
	rand.NewChaCha8([32]byte{3}).Read(big)
	if err := os.WriteFile(filepath.Join(data, "big.bin"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "notes.txt"), []byte("kept in a bucket\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d := testdaemon.Start(t, testdaemon.Options{Config: srv.Config("host1/") + fmt.Sprintf(`
sources:
  data:
    kind: files
    path: %s
    keep: 1
`, data)})

	b1 := runBackup(t, d, "data")
	if snaps, packs := bucketRepo(t, srv.Keys(t), "host1/"); !slices.Equal(snaps, []string{b1.Snapshot}) || packs < 3 {
		t.Fatalf("bucket holds snapshots %v and %d packs, want [%s] and at least 3", snaps, packs, b1.Snapshot)
	}
	if entries, _ := os.ReadDir(filepath.Join(d.DataDir, "archives")); len(entries) != 0 {
		t.Fatalf("backups were also written locally: %v", entries)
	}

	// A download cut after 8 MiB resumes with a Range request on the
	// export the first one built, and verifies.
	dest := filepath.Join(t.TempDir(), "b1.tar.zst")
	ctx, cancel := context.WithCancel(context.Background())
	_, err := d.Client().Download(ctx, b1.ID, dest, client.DownloadOptions{Progress: func(done, _ int64) {
		if done >= 8<<20 {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("first download: %v, want canceled", err)
	}
	out, _ := ctl(t, d, 0, "download", itoa(b1.ID), "-o", dest)
	b1 = backup(t, d, b1.ID)
	if !strings.Contains(out, "resumed after") || b1.SHA256 == "" || fileSHA256(t, dest) != b1.SHA256 {
		t.Fatalf("resumed download: %s (catalog sha256 %q)", out, b1.SHA256)
	}

	// The drill reads the snapshot from the bucket; a restore gets it back.
	if out, _ := ctl(t, d, 0, "verify", itoa(b1.ID)); !strings.Contains(out, "passed") {
		t.Fatalf("verify: %s", out)
	}
	to := filepath.Join(t.TempDir(), "restored")
	ctl(t, d, 0, "restore", itoa(b1.ID), "--to", to, "--archive", filepath.Join(t.TempDir(), "b1.tar.zst"))
	got, err := os.ReadFile(filepath.Join(to, "big.bin"))
	if err != nil || !bytes.Equal(got, big) {
		t.Fatalf("restored big.bin differs (%v)", err)
	}

	// keep: 1 forgets the older snapshot and drops its export, right
	// after the newer one's record is final.
	b2 := runBackup(t, d, "data")
	waitFor(t, "retention to leave only the snapshot of backup "+itoa(b2.ID)+" in the bucket", func() bool {
		snaps, _ := bucketRepo(t, srv.Keys(t), "host1/")
		return slices.Equal(snaps, []string{b2.Snapshot})
	})
	waitFor(t, "retention to drop the export of backup "+itoa(b1.ID), func() bool {
		_, err := os.Stat(exportPath(d, b1))
		return errors.Is(err, os.ErrNotExist)
	})
	if _, errOut := ctl(t, d, 1, "download", itoa(b1.ID), "-o", t.TempDir()); !strings.Contains(errOut, "removed by the retention") {
		t.Fatalf("download of the expired backup: %s", errOut)
	}

	// A crash mid-upload of a pack leaves an incomplete multipart upload;
	// the next start aborts it, and leaves another daemon's prefix alone.
	keys := srv.Keys(t)
	d.Stop()
	srv.LeaveIncomplete(t, "host1/repo/packs/ab/ab"+strings.Repeat("0", 62))
	srv.LeaveIncomplete(t, "host2/repo/packs/cd/cd"+strings.Repeat("0", 62))
	d.Restart()
	if inc := srv.Incomplete(t); !slices.Equal(inc, []string{"host2/repo/packs/cd/cd" + strings.Repeat("0", 62)}) {
		t.Fatalf("incomplete uploads after restart: %v, want only host2's", inc)
	}
	if after := srv.Keys(t); !slices.Equal(after, keys) {
		t.Fatalf("after restart the bucket holds %v, want %v", after, keys)
	}
}

// bucketRepo checks that every key is in the repository under prefix
// (its config, packs and snapshots) and returns the snapshot ids and the
// number of packs.
func bucketRepo(t *testing.T, keys []string, prefix string) (snaps []string, packs int) {
	t.Helper()
	config := false
	for _, k := range keys {
		rest, ok := strings.CutPrefix(k, prefix+"repo/")
		switch {
		case !ok:
			t.Fatalf("bucket key %s is outside %srepo/ (keys: %v)", k, prefix, keys)
		case rest == "config":
			config = true
		case strings.HasPrefix(rest, "packs/"):
			packs++
		case strings.HasPrefix(rest, "snapshots/"):
			snaps = append(snaps, strings.TrimPrefix(rest, "snapshots/"))
		default:
			t.Fatalf("bucket key %s is no repository object", k)
		}
	}
	if !config {
		t.Fatalf("no %srepo/config in the bucket: %v", prefix, keys)
	}
	return snaps, packs
}
