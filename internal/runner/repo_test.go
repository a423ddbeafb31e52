package runner_test

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/backupd/backupd/internal/config"
	"github.com/backupd/backupd/internal/domain"
	"github.com/backupd/backupd/internal/repo"
	"github.com/backupd/backupd/internal/repository"
	"github.com/backupd/backupd/internal/runner"
	"github.com/backupd/backupd/internal/source"
	"github.com/backupd/backupd/internal/testenv"
)

// repoFixture is a fixture whose runner stores into a repository under
// archives/repo, with the index in the catalog, as the daemon's does.
type repoFixture struct {
	*fixture
	repo *repository.Repository
}

func newRepoFixture(t *testing.T, packSize int) *repoFixture {
	t.Helper()
	f := newFixture(t)
	be, err := repo.NewLocal(filepath.Join(f.store.Dir(), "repo"))
	if err != nil {
		t.Fatal(err)
	}
	x, err := repository.Open(context.Background(), f.db, repository.Options{Backend: be, PackSize: packSize,
		CacheDir: filepath.Join(f.dataDir, "repo-cache"), ExportDir: filepath.Join(f.dataDir, "exports"), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { x.Close() })
	return &repoFixture{fixture: f, repo: x}
}

func (f *repoFixture) start(t *testing.T, specs ...runner.Spec) *runner.Runner {
	t.Helper()
	r := runner.New(f.db, f.store, specs, runner.Options{Workers: 2, Version: "test", TempDir: t.TempDir(), Logger: quiet, Repository: f.repo})
	if err := r.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Shutdown(0) })
	return r
}

func files(t *testing.T, name, dir string, keep int) runner.Spec {
	t.Helper()
	src, err := source.New(name, config.Source{Kind: config.KindFiles, Path: dir})
	if err != nil {
		t.Fatal(err)
	}
	return runner.Spec{Name: name, Source: src, Retention: domain.Retention{Last: keep}}
}

// dirBytes is the size of the files below dir.
func dirBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			fi, _ := d.Info()
			n += fi.Size()
		}
		return nil
	})
	return n
}

// genTree writes files of random and repeated bytes below dir.
func genTree(t *testing.T, dir string, files int, seed uint64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 7))
	for i := range files {
		b := make([]byte, 64<<10+rng.IntN(512<<10))
		for j := range b {
			if j%2 == 0 {
				b[j] = byte(rng.Uint32())
			} else {
				b[j] = 'a' + byte(j%26)
			}
		}
		p := filepath.Join(dir, fmt.Sprintf("d%d", i%5), fmt.Sprintf("f%03d.bin", i))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// snapshotOf reads a backup's snapshot from the store.
func (f *repoFixture) snapshotOf(t *testing.T, b domain.Backup) repo.Snapshot {
	t.Helper()
	id, err := repo.ParseID(b.Snapshot)
	if err != nil {
		t.Fatalf("backup %d: snapshot %q: %v", b.ID, b.Snapshot, err)
	}
	s, err := f.repo.Repo().Snapshot(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// restoreEquals restores b with the library, reading the store, and
// compares it with want (path -> content).
func (f *repoFixture) restoreEquals(t *testing.T, b domain.Backup, want map[string][]byte) {
	t.Helper()
	out := t.TempDir()
	if err := f.repo.Repo().Restore(context.Background(), f.snapshotOf(t, b), out, repo.RestoreOptions{}); err != nil {
		t.Fatalf("restore backup %d: %v", b.ID, err)
	}
	if got := readTree(t, out); len(got) != len(want) {
		t.Fatalf("backup %d restored %d files, want %d", b.ID, len(got), len(want))
	} else {
		for p, w := range want {
			if !bytes.Equal(got[p], w) {
				t.Fatalf("backup %d: %s differs after restore", b.ID, p)
			}
		}
	}
}

func readTree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			rel, _ := filepath.Rel(dir, p)
			out[rel], _ = os.ReadFile(p)
		}
		return nil
	})
	return out
}

// Three backups of a tree with changes between them: after the first,
// each grows the archive directory by a small fraction of the tree, the
// catalog records snapshot, logical and added bytes, and every snapshot
// restores byte for byte from the store.
func TestRepositoryBackupsDeduplicate(t *testing.T) {
	f := newRepoFixture(t, 1<<20)
	src := t.TempDir()
	genTree(t, src, 40, 1)
	r := f.start(t, files(t, "docs", src, 0))
	var backups []domain.Backup
	var trees []map[string][]byte
	var sizes []int64
	for i := range 3 {
		if i == 1 {
			os.WriteFile(filepath.Join(src, "d0", "f000.bin"), []byte("changed"), 0o644)
			os.WriteFile(filepath.Join(src, "new.txt"), []byte("a new file"), 0o644)
		}
		if i == 2 {
			os.Remove(filepath.Join(src, "d1", "f001.bin"))
			genTree(t, filepath.Join(src, "more"), 2, 9)
		}
		trees = append(trees, readTree(t, src))
		b := f.backup(t, r, "docs")
		if b.Status != domain.StatusSucceeded || b.Snapshot == "" {
			t.Fatalf("backup %d: %s %q, snapshot %q", i+1, b.Status, b.Error, b.Snapshot)
		}
		backups = append(backups, b)
		sizes = append(sizes, dirBytes(t, f.store.Dir()))
		if b.LogicalBytes != dirBytes(t, src) || b.SizeBytes != b.LogicalBytes {
			t.Errorf("backup %d: logical %d, size %d; the tree has %d", i+1, b.LogicalBytes, b.SizeBytes, dirBytes(t, src))
		}
	}
	tree := dirBytes(t, src)
	for i := 1; i < 3; i++ {
		grew := sizes[i] - sizes[i-1]
		if grew > tree/5 {
			t.Errorf("backup %d grew the archive directory by %d bytes, for a tree of %d", i+1, grew, tree)
		}
		if b := backups[i]; b.AddedBytes <= 0 || b.AddedBytes > grew+4096 {
			t.Errorf("backup %d: added_bytes %d, the directory grew by %d", i+1, b.AddedBytes, grew)
		}
	}
	for i, b := range backups {
		f.restoreEquals(t, b, trees[i])
	}
}

// Every kind of source that is no files tree stores into the repository
// too: a command's stdout as one stream entry, a SQLite snapshot as one
// file, with the info the drills need in the snapshot.
func TestRepositoryStoresEveryKind(t *testing.T) {
	sqlite3 := testenv.Command(t, "sqlite3")
	f := newRepoFixture(t, 0)
	db := filepath.Join(t.TempDir(), "app.db")
	if out, err := runCmd(sqlite3, db, "CREATE TABLE t (x); INSERT INTO t VALUES (1), (2), (3);"); err != nil {
		t.Fatalf("sqlite3: %v %s", err, out)
	}
	lite, err := source.New("app", config.Source{Kind: config.KindSQLite, Path: db})
	if err != nil {
		t.Fatal(err)
	}
	r := f.start(t, command(t, "echo", "echo hello; echo world", 0), runner.Spec{Name: "app", Source: lite})
	b := f.backup(t, r, "echo")
	s := f.snapshotOf(t, b)
	var out bytes.Buffer
	if err := f.repo.Repo().Dump(context.Background(), s, "stdout", &out); err != nil || out.String() != "hello\nworld\n" {
		t.Fatalf("stdout: %q, %v", out.String(), err)
	}
	b = f.backup(t, r, "app")
	s = f.snapshotOf(t, b)
	if string(s.Info) != `{"tables":{"t":3}}` || s.Kind != "sqlite" || b.LogicalBytes == 0 {
		t.Fatalf("sqlite snapshot: info %s, kind %s; backup %+v", s.Info, s.Kind, b)
	}
	out.Reset()
	if err := f.repo.Repo().Dump(context.Background(), s, "app.db", &out); err != nil || !bytes.HasPrefix(out.Bytes(), []byte("SQLite format 3")) {
		t.Fatalf("app.db: %d bytes, %v", out.Len(), err)
	}
}

// Retention forgets the snapshots it expires; the prune after it
// reclaims their packs, and what is kept still restores.
func TestRepositoryRetentionAndPrune(t *testing.T) {
	f := newRepoFixture(t, 256<<10)
	src := t.TempDir()
	r := f.start(t, files(t, "docs", src, 1))
	var last domain.Backup
	var want map[string][]byte
	for i := range 3 {
		os.RemoveAll(src)
		genTree(t, src, 8, uint64(10+i)) // nothing in common between rounds
		want = readTree(t, src)
		last = f.backup(t, r, "docs")
	}
	deadline := time.Now().Add(testenv.WaitTimeout)
	for {
		snaps, err := f.repo.Repo().Index().Snapshots(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		repoBytes, _ := f.db.RepoBytes(context.Background())
		if len(snaps) == 1 && repoBytes < 2*dirBytes(t, src) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d snapshots, %d bytes of packs after retention keep 1 and prune (tree %d bytes)", len(snaps), repoBytes, dirBytes(t, src))
		}
		time.Sleep(10 * time.Millisecond)
	}
	f.restoreEquals(t, last, want)
	evs, _ := f.db.ListEvents(context.Background(), 0, 1000)
	pruned := 0
	for _, ev := range evs {
		if ev.Type == domain.EventRepoPruned {
			pruned++
		}
	}
	if pruned == 0 {
		t.Fatal("no repo.pruned event")
	}
}

// A crash between a snapshot's commit and its backup's record: at the
// next start the backup is failed (interrupted) and its snapshot
// forgotten, so prune can reclaim it.
func TestRepositoryCrashAfterCommit(t *testing.T) {
	f := newRepoFixture(t, 0)
	ctx := context.Background()
	b, _ := f.db.CreateBackup(ctx, "echo", "command")
	b, err := f.db.StartBackup(ctx, b.ID, runner.ArchiveName(b))
	if err != nil {
		t.Fatal(err)
	}
	bk, err := f.repo.NewBackup(ctx, repo.Meta{Source: "echo", Kind: "command", BackupID: b.ID})
	if err != nil {
		t.Fatal(err)
	}
	bk.AddStream(ctx, "stdout", bytes.NewReader([]byte("committed, never recorded")))
	if _, _, err := bk.Commit(ctx, nil); err != nil {
		t.Fatal(err)
	}
	f.start(t, command(t, "echo", "echo hello", 0))
	if got, _ := f.db.Backup(ctx, b.ID); got.Status != domain.StatusFailed || got.Error != domain.ErrInterrupted {
		t.Fatalf("after restart: %s %q", got.Status, got.Error)
	}
	snaps, _ := f.repo.Repo().Index().Snapshots(ctx)
	if len(snaps) != 0 {
		t.Fatalf("the interrupted backup's snapshot is still recorded: %+v", snaps)
	}
}

// Prune races running backups, many times: it never removes what a
// committed or running backup references. Every snapshot left restores,
// and the repository checks clean.
func TestRepositoryPruneRacesBackups(t *testing.T) {
	f := newRepoFixture(t, 64<<10)
	src := t.TempDir()
	r := f.start(t, files(t, "docs", src, 2))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	prunes := 0
	wg.Go(func() {
		for ctx.Err() == nil {
			if _, err := f.repo.Prune(ctx); err != nil && ctx.Err() == nil {
				t.Errorf("prune: %v", err)
				return
			}
			prunes++
		}
	})
	var kept []domain.Backup
	var wants []map[string][]byte
	for i := 0; i < 12 && ctx.Err() == nil; i++ {
		// Half the files change each round; the others dedup against
		// packs that prune keeps marking and unmarking.
		genTree(t, src, 6, uint64(i%3))
		os.WriteFile(filepath.Join(src, fmt.Sprintf("round%d", i)), bytes.Repeat([]byte{byte(i)}, 100<<10), 0o644)
		wants = append(wants, readTree(t, src))
		b := f.backup(t, r, "docs")
		if b.Status != domain.StatusSucceeded {
			t.Fatalf("round %d: %s %q", i, b.Status, b.Error)
		}
		kept = append(kept, b)
	}
	cancel()
	wg.Wait()
	if t.Failed() {
		return
	}
	t.Logf("%d backups, %d prunes", len(kept), prunes)
	// Retention, and the prune after it, run in the worker just after a
	// record is final: stop the runner, which waits for them, so that the
	// restores and the check below race nothing.
	r.Shutdown(testenv.WaitTimeout)
	for i, b := range kept {
		cur, _ := f.db.Backup(context.Background(), b.ID)
		if cur.Archive == "" {
			continue // expired by keep: 2
		}
		f.restoreEquals(t, cur, wants[i])
	}
	if res, err := f.repo.Check(context.Background(), true); err != nil || !res.OK {
		t.Fatalf("check after the race: %+v, %v", res, err)
	}
}

func runCmd(name string, args ...string) ([]byte, error) {
	return execCommand(name, args...).CombinedOutput()
}

func execCommand(name string, args ...string) *exec.Cmd { return exec.Command(name, args...) }
