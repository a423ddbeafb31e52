package main_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/backupd/backupd/internal/client"
	"github.com/backupd/backupd/internal/domain"
	"github.com/backupd/backupd/internal/testdaemon"
	"github.com/backupd/backupd/internal/webhook"
)

var syncSecret = "whsec_" + base64.StdEncoding.EncodeToString([]byte("secret for the sync test"))

// backupctl sync mirrors every archive once (a repository backup's
// export, whose digest the sync learns from the download that builds
// it), resumes a partial file, leaves what retention removed on the
// server, skips webhook reports, finds a damaged copy only when asked to
// re-read, and fails (exit 1) on an archive that does not verify while
// mirroring the rest.
func TestSyncMirrorsArchives(t *testing.T) {
	d := testdaemon.Start(t, testdaemon.Options{Config: fmt.Sprintf(`
sources:
  a:
    kind: command
    command: ["sh", "-c", "head -c 300000 /dev/urandom"]
    keep: 2
  b:
    kind: command
    command: ["echo", "beta"]
webhooks:
  secrets: [%q]
`, syncSecret)})
	a1 := runBackup(t, d, "a")
	b1 := runBackup(t, d, "b")
	postReport(t, d.URL, `{"source":"elsewhere","status":"succeeded","location":"s3://x/y.tar.zst","size_bytes":10}`)
	mirror := filepath.Join(t.TempDir(), "mirror") // created by sync
	if a1.SHA256 != "" || b1.SHA256 != "" {
		t.Fatalf("exports built before any download: %q %q", a1.SHA256, b1.SHA256)
	}

	out, errOut := ctl(t, d, 0, "sync", mirror, "-o", "json")
	var res client.SyncResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("sync -o json: %v\n%s%s", err, out, errOut)
	}
	if res.Downloaded != 2 || res.Present != 0 || res.Failed != 0 || len(res.Items) != 2 ||
		res.Items[0].BackupID != b1.ID || res.Items[1].BackupID != a1.ID {
		t.Fatalf("first sync: %+v, want b1 then a1 downloaded, nothing else", res)
	}
	// The downloads built the exports: the catalog now has their sizes
	// and digests, which the sync reported and the files match.
	b1, a1 = backup(t, d, b1.ID), backup(t, d, a1.ID)
	if res.Bytes != a1.ExportBytes+b1.ExportBytes {
		t.Fatalf("first sync moved %d bytes, want %d", res.Bytes, a1.ExportBytes+b1.ExportBytes)
	}
	for i, b := range []domain.Backup{b1, a1} {
		if it := res.Items[i]; it.SHA256 != b.SHA256 || it.Size != b.ExportBytes {
			t.Fatalf("sync reported backup %d as sha256 %q, %d bytes; the catalog has %q, %d", b.ID, it.SHA256, it.Size, b.SHA256, b.ExportBytes)
		}
		if got := fileSHA256(t, filepath.Join(mirror, b.Archive)); got != b.SHA256 {
			t.Fatalf("mirrored %s has sha256 %s, want %s", b.Archive, got, b.SHA256)
		}
	}

	// Two more backups of a: a1 leaves the server (keep: 2), not the mirror.
	a2 := runBackup(t, d, "a")
	a3 := runBackup(t, d, "a")
	waitFor(t, "retention to expire a1", func() bool { // right after a3's record is final
		b, err := d.Client().Backup(context.Background(), a1.ID)
		return err == nil && b.Archive == ""
	})
	// Half of a2 is already here, as an interrupted download leaves it
	// (which built its export); a3 has never been downloaded.
	dl, a2 := download(t, d, a2)
	whole, err := os.ReadFile(dl)
	if err != nil {
		t.Fatal(err)
	}
	half := int64(len(whole) / 2)
	if err := os.WriteFile(filepath.Join(mirror, a2.Archive+client.PartialSuffix), whole[:half], 0o640); err != nil {
		t.Fatal(err)
	}
	// The mirror's copy of b1 is damaged in place, keeping its size.
	flipByte(t, filepath.Join(mirror, b1.Archive), 20)

	out, _ = ctl(t, d, 0, "sync", mirror)
	for _, want := range []string{
		fmt.Sprintf("backup %d: downloaded", a3.ID),
		fmt.Sprintf("backup %d: downloaded %s", a2.ID, filepath.Join(mirror, a2.Archive)),
		"resumed after",
		fmt.Sprintf("backup %d: %s is already here\n", b1.ID, filepath.Join(mirror, b1.Archive)),
		"2 downloaded", "1 already here", "0 failed",
	} {
		if !strings.Contains(out, want) {
			t.Fatalf("second sync output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, fmt.Sprintf("backup %d", a1.ID)) {
		t.Fatalf("second sync mentions expired backup %d:\n%s", a1.ID, out)
	}
	if got := fileSHA256(t, filepath.Join(mirror, a2.Archive)); got != a2.SHA256 {
		t.Fatalf("resumed a2 has sha256 %s, want %s", got, a2.SHA256)
	}
	if a3 = backup(t, d, a3.ID); a3.SHA256 == "" || fileSHA256(t, filepath.Join(mirror, a3.Archive)) != a3.SHA256 {
		t.Fatalf("mirrored a3 does not have the digest its export got (%q)", a3.SHA256)
	}
	if _, err := os.Stat(filepath.Join(mirror, a2.Archive+client.PartialSuffix)); !os.IsNotExist(err) {
		t.Fatalf("the partial file of a2 is still there: %v", err)
	}
	if got := fileSHA256(t, filepath.Join(mirror, a1.Archive)); got != a1.SHA256 {
		t.Fatal("the mirror lost (or changed) a1 after the server's retention removed it")
	}

	// Re-reading finds the damaged b1 and replaces it.
	out, _ = ctl(t, d, 0, "sync", mirror, "--verify-existing")
	if !strings.Contains(out, fmt.Sprintf("backup %d: downloaded", b1.ID)) ||
		!strings.Contains(out, fmt.Sprintf("backup %d: %s is already here, sha256 verified", a3.ID, filepath.Join(mirror, a3.Archive))) {
		t.Fatalf("sync --verify-existing:\n%s", out)
	}
	if got := fileSHA256(t, filepath.Join(mirror, b1.Archive)); got != b1.SHA256 {
		t.Fatalf("b1 after --verify-existing has sha256 %s, want %s", got, b1.SHA256)
	}

	// The export of a3 the server sends is damaged: it fails to verify,
	// is not kept, and the sync goes on to mirror the rest.
	if err := os.Remove(filepath.Join(mirror, a3.Archive)); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(mirror, b1.Archive)); err != nil {
		t.Fatal(err)
	}
	flipByte(t, exportPath(d, a3), 100)
	out, errOut = ctl(t, d, 1, "sync", mirror)
	if !strings.Contains(errOut, fmt.Sprintf("backup %d: archive did not verify", a3.ID)) ||
		!strings.Contains(errOut, "1 of 3 archives failed") ||
		!strings.Contains(out, fmt.Sprintf("backup %d: downloaded", b1.ID)) {
		t.Fatalf("sync with a bad archive on the server:\nstdout:\n%s\nstderr:\n%s", out, errOut)
	}
	for _, p := range []string{a3.Archive, a3.Archive + client.PartialSuffix} {
		if _, err := os.Stat(filepath.Join(mirror, p)); !os.IsNotExist(err) {
			t.Fatalf("%s is in the mirror after failing to verify: %v", p, err)
		}
	}

	// A --source the server does not have is a usage error, before anything.
	_, errOut = ctl(t, d, 2, "sync", mirror, "--source", "b,nope")
	if !strings.Contains(errOut, `--source "nope": the server has no such source (it has: `) {
		t.Fatalf("sync --source nope: %s", errOut)
	}
	out, _ = ctl(t, d, 0, "sync", mirror, "--source", "b")
	if !strings.Contains(out, "0 downloaded (0 B), 1 already here") {
		t.Fatalf("sync --source b:\n%s", out)
	}
}

func flipByte(t *testing.T, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xff
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// postReport sends one signed backup-completion report.
func postReport(t *testing.T, base, body string) {
	t.Helper()
	key, err := webhook.ParseSecret(syncSecret)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/webhooks/backup", bytes.NewReader([]byte(body)))
	req.Header.Set("Content-Type", "application/json")
	webhook.SignHeaders(req.Header, key, fmt.Sprintf("msg_%d", time.Now().UnixNano()), time.Now(), []byte(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("report: %d", resp.StatusCode)
	}
}

// An archive that retention removes while the sync is under way is
// reported as gone, not as a failure, and leaves nothing in the mirror.
func TestSyncArchiveRemovedMidway(t *testing.T) {
	d := testdaemon.Start(t, testdaemon.Options{Config: `
sources:
  big:
    kind: command
    command: ["sh", "-c", "head -c 6000000 /dev/urandom"]
  y:
    kind: command
    command: ["echo", "why"]
    keep: 1
`})
	y1 := runBackup(t, d, "y")
	big := runBackup(t, d, "big") // newer: synced first
	mirror := t.TempDir()
	expired := false
	res, err := d.Client().Sync(context.Background(), mirror, client.SyncOptions{
		Progress: func(b domain.Backup, _, _ int64) {
			if b.ID == big.ID && !expired {
				expired = true
				runBackup(t, d, "y") // keep: 1 forgets y1, already listed
				waitFor(t, "retention to forget y1's snapshot", func() bool {
					return backup(t, d, y1.ID).Archive == "" && !slices.Contains(snapshots(t, d), y1.Snapshot)
				})
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !expired || res.Downloaded != 1 || res.Gone != 1 || res.Failed != 0 || len(res.Items) != 2 ||
		res.Items[1].BackupID != y1.ID || res.Items[1].Action != client.SyncGone {
		t.Fatalf("sync result %+v, want big downloaded and y1 gone", res)
	}
	entries, _ := os.ReadDir(mirror)
	var names []string
	for _, e := range entries {
		if e.Name() != client.SyncLockName {
			names = append(names, e.Name())
		}
	}
	if len(names) != 1 || names[0] != big.Archive {
		t.Fatalf("mirror holds %v, want only %s (and the lock file)", names, big.Archive)
	}
}

// A second sync into a directory that another sync holds stops at once
// (exit 1), saying why, and writes nothing; once the first is done, the
// directory is free again.
func TestSyncRefusesBusyDirectory(t *testing.T) {
	d := testdaemon.Start(t, testdaemon.Options{Config: `
sources:
  a:
    kind: command
    command: ["echo", "alpha"]
`})
	a1 := runBackup(t, d, "a")
	mirror := t.TempDir()
	lock, err := os.OpenFile(filepath.Join(mirror, client.SyncLockName), os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		t.Fatal(err)
	}

	_, errOut := ctl(t, d, 1, "sync", mirror)
	if !strings.Contains(errOut, "another backupctl sync is mirroring into "+mirror) {
		t.Fatalf("sync into a held directory: stderr %q", errOut)
	}
	entries, err := os.ReadDir(mirror)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != client.SyncLockName {
		t.Fatalf("the refused sync wrote into the mirror: %v", entries)
	}

	lock.Close() // the other sync ends
	ctl(t, d, 0, "sync", mirror)
	a1 = backup(t, d, a1.ID) // the digest of the export the sync built
	if got := fileSHA256(t, filepath.Join(mirror, a1.Archive)); got != a1.SHA256 {
		t.Fatalf("mirrored archive has sha256 %s, want %s", got, a1.SHA256)
	}
}
