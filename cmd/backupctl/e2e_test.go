package main_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/backupd/backupd/internal/client"
	"github.com/backupd/backupd/internal/domain"
	"github.com/backupd/backupd/internal/testdaemon"
)

func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// The README's quick start: a zero-config daemon, one command, a verified
// archive of the built-in catalog source.
func TestRunWaitDownloadCatalog(t *testing.T) {
	d := testdaemon.Start(t, testdaemon.Options{})
	dir := t.TempDir()
	out, errOut, code := d.Backupctl(context.Background(), "run", "catalog", "--wait", "--download", dir)
	if code != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	if !strings.Contains(out, "verified") {
		t.Errorf("stdout does not say the archive verified: %s", out)
	}
	list, _, err := d.Client().Backups(context.Background(), domain.BackupFilter{Source: "catalog"})
	if err != nil || len(list) != 1 {
		t.Fatalf("backups = %+v, %v", list, err)
	}
	b := list[0]
	if want := fmt.Sprintf("backup %d of catalog succeeded: ", b.ID); !strings.Contains(out, want) ||
		b.Snapshot == "" || !strings.Contains(out, "added to the repository, snapshot "+b.Snapshot[:12]) {
		t.Errorf("stdout does not say what the backup stored (snapshot %q): %s", b.Snapshot, out)
	}
	path := filepath.Join(dir, b.Archive)
	if got := fileSHA256(t, path); got != b.SHA256 {
		t.Fatalf("downloaded sha256 = %s, catalog says %s", got, b.SHA256)
	}
	if _, err := os.Stat(path + client.PartialSuffix); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a .partial file was left behind: %v", err)
	}
}

const bigSource = `
sources:
  big:
    kind: command
    command: ["head", "-c", "16777216", "/dev/urandom"]
`

func runBackup(t *testing.T, d *testdaemon.Daemon, source string) domain.Backup {
	t.Helper()
	b, err := d.Client().CreateBackup(context.Background(), source)
	if err != nil {
		t.Fatal(err)
	}
	done := d.WaitBackup(b.ID)
	if done.Status != domain.StatusSucceeded {
		t.Fatalf("backup %d: %s: %s", b.ID, done.Status, done.Error)
	}
	return done
}

// waitVerified waits up to timeout for the drill that verify: true runs
// after backup b, and returns b as it then stands.
func waitVerified(t *testing.T, d *testdaemon.Daemon, b domain.Backup, timeout time.Duration) domain.Backup {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for b.VerifiedAt == nil && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		b, _ = d.Client().Backup(context.Background(), b.ID)
	}
	return b
}

// A download cut off midway leaves only a partial file; the next one
// resumes it against the digest the first download's export got, and
// verifies.
func TestDownloadCutMidwayResumesAndVerifies(t *testing.T) {
	d := testdaemon.Start(t, testdaemon.Options{Config: bigSource})
	b := runBackup(t, d, "big")
	dest := filepath.Join(t.TempDir(), "big.tar.zst")

	// Cut the first download off after 4 MiB by canceling it. It built
	// the export, whose size and digest the catalog now has.
	ctx, cancel := context.WithCancel(context.Background())
	_, err := d.Client().Download(ctx, b.ID, dest, client.DownloadOptions{Progress: func(done, _ int64) {
		if done >= 4<<20 {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("first download: err = %v, want canceled", err)
	}
	b = backup(t, d, b.ID)
	if b.SHA256 == "" || b.ExportBytes == 0 {
		t.Fatalf("after the first download the catalog has sha256 %q, export_bytes %d", b.SHA256, b.ExportBytes)
	}
	st, err := os.Stat(dest + client.PartialSuffix)
	if err != nil || st.Size() == 0 || st.Size() >= b.ExportBytes {
		t.Fatalf("partial file after the cut: %v, %v (the export is %d bytes)", st, err, b.ExportBytes)
	}
	if _, err := os.Stat(dest); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("an unverified file has the final name: %v", err)
	}

	out, errOut, code := d.Backupctl(context.Background(), "download", itoa(b.ID), "-o", dest)
	if code != 0 {
		t.Fatalf("resume: exit %d: %s %s", code, out, errOut)
	}
	if !strings.Contains(out, "resumed") {
		t.Errorf("download did not resume: %s", out)
	}
	if got := fileSHA256(t, dest); got != b.SHA256 {
		t.Fatalf("resumed file sha256 = %s, want %s", got, b.SHA256)
	}
}

func TestCorruptedDownloadIsDetectedAndRemoved(t *testing.T) {
	d := testdaemon.Start(t, testdaemon.Options{Config: bigSource})
	b := runBackup(t, d, "big")
	// The first download builds the export and records its digest. Flip
	// one byte of the export the daemon serves from then on: what it
	// sends no longer matches that digest.
	_, b = download(t, d, b)
	flipByte(t, exportPath(d, b), 1000)

	dir := t.TempDir()
	_, errOut, code := d.Backupctl(context.Background(), "download", itoa(b.ID), "-o", dir)
	if code != 1 {
		t.Fatalf("exit = %d, want 1; stderr: %s", code, errOut)
	}
	if !strings.Contains(errOut, "did not verify") || !strings.Contains(errOut, b.SHA256) {
		t.Errorf("stderr does not explain: %s", errOut)
	}
	left, _ := os.ReadDir(dir)
	if len(left) != 0 {
		t.Fatalf("files left after a failed verification: %v", left)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// A destination ending in a slash is a directory, created if missing; a
// file in a directory that does not exist is refused with what to do.
func TestDownloadDestinations(t *testing.T) {
	d := testdaemon.Start(t, testdaemon.Options{})
	b := runBackup(t, d, "catalog")
	base := t.TempDir()
	newDir := filepath.Join(base, "new", "dir") + string(filepath.Separator)
	ctl(t, d, 0, "download", itoa(b.ID), "-o", newDir)
	b = backup(t, d, b.ID) // the download recorded the export's digest
	if got := fileSHA256(t, filepath.Join(newDir, b.Archive)); got != b.SHA256 {
		t.Fatalf("archive in the created directory: sha256 %s, want %s", got, b.SHA256)
	}
	missing := filepath.Join(base, "nope", "x.tar.zst")
	_, errOut := ctl(t, d, 1, "download", itoa(b.ID), "-o", missing)
	if !strings.Contains(errOut, "directory "+filepath.Join(base, "nope")+" does not exist (end the path with / to have it created)") {
		t.Fatalf("download into a missing directory: %s", errOut)
	}
	if _, err := os.Stat(filepath.Join(base, "nope")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the refused download created its directory: %v", err)
	}
	out, _ := ctl(t, d, 0, "run", "catalog", "--download", filepath.Join(base, "run")+"/")
	if !strings.Contains(out, "verified") {
		t.Fatalf("run --download DIR/: %s", out)
	}
}
