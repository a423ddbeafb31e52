package main_test

import (
	"archive/tar"
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/backupd/backupd/internal/archive"
	"github.com/backupd/backupd/internal/catalog"
	"github.com/backupd/backupd/internal/domain"
	"github.com/backupd/backupd/internal/miniotest"
	"github.com/backupd/backupd/internal/repo"
	"github.com/backupd/backupd/internal/storage"
	"github.com/backupd/backupd/internal/testdaemon"
	"github.com/backupd/backupd/internal/testenv"
	"github.com/backupd/backupd/migrations"
)

// oldDataDir makes the data_dir of a daemon from before the repository:
// a catalog with migrations 0001-0003 only, and one succeeded backup of
// docs stored as a tar.zst archive, as that daemon wrote it.
func oldDataDir(t *testing.T) (dir string, name, sum string, content string) {
	t.Helper()
	dir = t.TempDir()
	old := fstest.MapFS{}
	for _, n := range []string{"0001_init.sql", "0002_webhooks.sql", "0003_repo.sql"} {
		b, err := fs.ReadFile(migrations.FS, n)
		if err != nil {
			t.Fatal(err)
		}
		old[n] = &fstest.MapFile{Data: b}
	}
	db, err := catalog.Open(context.Background(), filepath.Join(dir, "catalog.db"), old)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	content = "made before the repository\n"
	var buf bytes.Buffer
	created := time.Date(2025, 1, 1, 3, 0, 0, 0, time.UTC)
	w, err := archive.NewWriter(&buf, archive.Meta{Source: "docs", Kind: "files", BackupID: 1, Version: "old", Started: created}, archive.Options{})
	if err != nil {
		t.Fatal(err)
	}
	w.AddFile(&tar.Header{Typeflag: tar.TypeReg, Name: "old.txt", Size: int64(len(content)), Mode: 0o644, ModTime: created}, strings.NewReader(content))
	res, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	name = "docs-20250101T030000Z-1.tar.zst"
	os.MkdirAll(filepath.Join(dir, "archives"), 0o750)
	if err := os.WriteFile(filepath.Join(dir, "archives", name), buf.Bytes(), 0o640); err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open("sqlite3", filepath.Join(dir, "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	at := created.Format("2006-01-02T15:04:05.000000000Z")
	if _, err := raw.Exec(`INSERT INTO backups (id, source, kind, origin, status, created_at, started_at, finished_at, size_bytes, sha256, archive)
		VALUES (1, 'docs', 'files', 'local', 'succeeded', ?, ?, ?, ?, ?, ?)`, at, at, at, res.Size, res.SHA256, name); err != nil {
		t.Fatal(err)
	}
	return dir, name, res.SHA256, content
}

// Archives made before the repository stay listable, downloadable,
// verifiable and under retention beside repository backups, which the
// upgraded daemon makes from then on.
func TestOldArchivesBesideRepository(t *testing.T) {
	dir, name, sum, content := oldDataDir(t)
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "new.txt"), []byte("made in the repository\n"), 0o644)
	d := testdaemon.Start(t, testdaemon.Options{DataDir: dir, Config: fmt.Sprintf("sources:\n  docs:\n    kind: files\n    path: %s\n    keep: 2\n", src)})
	ctx := context.Background()
	old, err := d.Client().Backup(ctx, 1)
	if err != nil || old.Archive != name || old.SHA256 != sum || old.Snapshot != "" {
		t.Fatalf("old backup after the upgrade: %+v, %v", old, err)
	}
	dl := t.TempDir()
	if out, errOut, code := d.Backupctl(ctx, "download", "1", "-o", dl+"/"); code != 0 {
		t.Fatalf("download of the old archive: exit %d %s %s", code, out, errOut)
	}
	if got, _ := os.ReadFile(filepath.Join(unpack(t, filepath.Join(dl, name)), "old.txt")); string(got) != content {
		t.Fatalf("old archive unpacks to %q", got)
	}
	if v, err := d.Client().Verify(ctx, 1); err != nil || v.VerifyStatus != "passed" {
		t.Fatalf("drill of the old archive: %+v %v", v, err)
	}
	to := t.TempDir()
	if out, errOut, code := d.Backupctl(ctx, "restore", "1", "--to", to, "--archive", t.TempDir()); code != 0 {
		t.Fatalf("restore of the old archive: exit %d %s %s", code, out, errOut)
	}

	first := run(t, d, "docs")
	if first.Snapshot == "" {
		t.Fatalf("a new backup is not in the repository: %+v", first)
	}
	if _, err := os.Stat(filepath.Join(dir, "archives", name)); err != nil {
		t.Fatalf("keep: 2 with two backups removed the old archive: %v", err)
	}
	second := run(t, d, "docs")
	waitGone(t, filepath.Join(dir, "archives", name))
	if got, _ := d.Client().Backup(ctx, 1); got.Archive != "" || got.Status != domain.StatusSucceeded {
		t.Fatalf("expired old record: %+v", got)
	}
	third := run(t, d, "docs")
	deadline := time.Now().Add(testenv.WaitTimeout)
	for {
		if got, _ := d.Client().Backup(ctx, first.ID); got.Archive == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("retention did not expire the first repository backup")
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, b := range []domain.Backup{second, third} {
		if v, err := d.Client().Verify(ctx, b.ID); err != nil || v.VerifyStatus != "passed" {
			t.Fatalf("drill of backup %d: %+v %v", b.ID, v, err)
		}
	}
	// The forgotten snapshot is gone from the store; the kept ones stay.
	r, err := repo.Open(ctx, localStore(t, d), repo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	snaps, err := r.Snapshots(ctx)
	if err != nil || len(snaps) != 2 || snaps[0].BackupID != second.ID {
		t.Fatalf("snapshots in the store: %d, %v", len(snaps), err)
	}
}

func waitGone(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(testenv.WaitTimeout)
	for {
		if _, err := os.Stat(path); os.IsNotExist(err) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s is still there", path)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill -9 in the middle of a repository backup leaves at most packs no
// snapshot references: the backup is failed (interrupted) at the next
// start, and a prune then removes what it stored.
func TestKilledRepositoryBackup(t *testing.T) {
	d := testdaemon.Start(t, testdaemon.Options{Config: `repository:
  prune_margin: 0s
sources:
  big:
    kind: command
    command: ["sh", "-c", "head -c 40000000 /dev/urandom; exec sleep 120"]
`})
	ctx := context.Background()
	b, err := d.Client().CreateBackup(ctx, "big")
	if err != nil {
		t.Fatal(err)
	}
	packs := filepath.Join(d.DataDir, "archives", "repo", "packs")
	deadline := time.Now().Add(testenv.WaitTimeout)
	for packBytes(t, packs) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the backup stored no pack")
		}
		time.Sleep(20 * time.Millisecond)
	}
	d.Kill()
	d.Restart()
	got, err := d.Client().Backup(ctx, b.ID)
	if err != nil || got.Status != domain.StatusFailed || got.Error != domain.ErrInterrupted || got.Snapshot != "" {
		t.Fatalf("after kill -9 and restart: %+v %v", got, err)
	}
	var res domain.PruneResult
	if code := apiJSON(t, d, "POST", "/api/v1/repository/prune", &res); code != 200 || res.Deleted == 0 {
		t.Fatalf("prune after the crash: %d %+v", code, res)
	}
	if n := packBytes(t, packs); n != 0 {
		t.Fatalf("%d bytes of packs left after prune", n)
	}
}

// packBytes is the size of the packs below dir (not temporary files).
func packBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && !strings.HasPrefix(d.Name(), ".") {
			fi, _ := d.Info()
			n += fi.Size()
		}
		return nil
	})
	return n
}

// The same on MinIO: backups deduplicate in the bucket under
// <prefix>repo/, restore from the bucket alone, download, drill and prune.
func TestRepositoryOnMinIO(t *testing.T) {
	srv := miniotest.Start(t)
	src := t.TempDir()
	fill(t, src, 12, 200<<10, 3)
	d := testdaemon.Start(t, testdaemon.Options{Config: fmt.Sprintf(`repository:
  prune_margin: 0s
storage:
  s3:
    endpoint: %s
    bucket: %s
    prefix: host1/
    access_key: %s
    secret_key: %s
    insecure: true
sources:
  docs:
    kind: files
    path: %s
    keep: 1
`, srv.Endpoint, srv.Bucket, srv.AccessKey, srv.SecretKey, src)})
	ctx := context.Background()
	be, err := repo.NewS3(ctx, storage.S3Config{Endpoint: srv.Endpoint, Bucket: srv.Bucket, Prefix: "host1/",
		AccessKey: srv.AccessKey, SecretKey: srv.SecretKey, Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	first := run(t, d, "docs")
	os.WriteFile(filepath.Join(src, "d0", "f000"), []byte("changed"), 0o644)
	want := contents(t, src)
	second := run(t, d, "docs")
	if second.AddedBytes*10 > first.AddedBytes {
		t.Fatalf("added %d then %d bytes: no dedup in the bucket", first.AddedBytes, second.AddedBytes)
	}
	restoreFromStore(t, be, nil, second, want)
	dl := t.TempDir()
	if out, errOut, code := d.Backupctl(ctx, "download", fmt.Sprint(second.ID), "-o", dl+"/"); code != 0 {
		t.Fatalf("download: exit %d %s %s", code, out, errOut)
	}
	cur, _ := d.Client().Backup(ctx, second.ID)
	if got := contents(t, unpack(t, filepath.Join(dl, cur.Archive))); got["d0/f000"] != "changed" || len(got) != len(want) {
		t.Fatalf("the export unpacks to %d files", len(got))
	}
	if v, err := d.Client().Verify(ctx, second.ID); err != nil || v.VerifyStatus != "passed" {
		t.Fatalf("drill: %+v %v", v, err)
	}
	// keep: 1 forgot the first; its chunks live on in the second, so
	// prune has nothing of it to delete, and the store still restores.
	var check domain.CheckResult
	if code := apiJSON(t, d, "POST", "/api/v1/repository/check?read_data=true", &check); code != 200 || !check.OK {
		t.Fatalf("check: %d %+v", code, check)
	}
	var res domain.PruneResult
	if code := apiJSON(t, d, "POST", "/api/v1/repository/prune", &res); code != 200 {
		t.Fatalf("prune: %d %+v", code, res)
	}
	restoreFromStore(t, be, nil, second, want)
	if _, err := d.Client().Backup(ctx, first.ID); err != nil {
		t.Fatal(err)
	}
}
