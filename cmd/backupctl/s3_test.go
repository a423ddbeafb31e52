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

// With storage.s3, archives live in a real MinIO bucket under the prefix:
// a backup's archive is an object, downloads resume through it, the drill
// and a restore read it, retention deletes it, and an upload a crash left
// behind is aborted at the next start.
func TestArchivesInS3(t *testing.T) {
	srv := miniotest.Start(t)
	data := t.TempDir()
	big := make([]byte, 40<<20) // random: the archive spans three parts
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
	if keys := srv.Keys(t); !slices.Equal(keys, []string{"host1/" + b1.Archive}) {
		t.Fatalf("bucket holds %v, want [host1/%s]", keys, b1.Archive)
	}
	if entries, _ := os.ReadDir(filepath.Join(d.DataDir, "archives")); len(entries) != 0 {
		t.Fatalf("archives were also written locally: %v", entries)
	}

	// A download cut after 8 MiB resumes with a Range request served from
	// the object, and verifies.
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
	if !strings.Contains(out, "resumed after") || fileSHA256(t, dest) != b1.SHA256 {
		t.Fatalf("resumed download: %s", out)
	}

	// The drill reads the archive from the bucket; a restore gets it back.
	if out, _ := ctl(t, d, 0, "verify", itoa(b1.ID)); !strings.Contains(out, "passed") {
		t.Fatalf("verify: %s", out)
	}
	to := filepath.Join(t.TempDir(), "restored")
	ctl(t, d, 0, "restore", itoa(b1.ID), "--to", to, "--archive", filepath.Join(t.TempDir(), "b1.tar.zst"))
	got, err := os.ReadFile(filepath.Join(to, "big.bin"))
	if err != nil || !bytes.Equal(got, big) {
		t.Fatalf("restored big.bin differs (%v)", err)
	}

	// keep: 1 deletes the older object, right after the newer one's
	// record is final.
	b2 := runBackup(t, d, "data")
	waitFor(t, "retention to leave only host1/"+b2.Archive+" in the bucket", func() bool {
		return slices.Equal(srv.Keys(t), []string{"host1/" + b2.Archive})
	})
	if _, errOut := ctl(t, d, 1, "download", itoa(b1.ID), "-o", t.TempDir()); !strings.Contains(errOut, "removed by the retention") {
		t.Fatalf("download of the expired backup: %s", errOut)
	}

	// A crash mid-upload leaves an incomplete multipart upload; the next
	// start aborts it, and leaves another daemon's prefix alone.
	d.Stop()
	srv.LeaveIncomplete(t, "host1/data-20261124T000000Z-99.tar.zst")
	srv.LeaveIncomplete(t, "host2/other.tar.zst")
	d.Restart()
	if inc := srv.Incomplete(t); !slices.Equal(inc, []string{"host2/other.tar.zst"}) {
		t.Fatalf("incomplete uploads after restart: %v, want only host2's", inc)
	}
	if keys := srv.Keys(t); !slices.Equal(keys, []string{"host1/" + b2.Archive}) {
		t.Fatalf("after restart the bucket holds %v", keys)
	}
}
