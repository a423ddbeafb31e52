package runner_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/backupd/backupd/internal/archive"
	"github.com/backupd/backupd/internal/catalog"
	"github.com/backupd/backupd/internal/config"
	"github.com/backupd/backupd/internal/domain"
	"github.com/backupd/backupd/internal/runner"
	"github.com/backupd/backupd/internal/source"
	"github.com/backupd/backupd/internal/storage"
	"github.com/backupd/backupd/migrations"
)

// The runner is tested with its real parts: a SQLite catalog file, local
// storage in a temp dir and command sources run by the shell.

var quiet = slog.New(slog.DiscardHandler)

type fixture struct {
	db      *catalog.DB
	store   *storage.Local
	dataDir string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	db, err := catalog.Open(context.Background(), filepath.Join(dir, "catalog.db"), migrations.FS)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	st, err := storage.NewLocal(filepath.Join(dir, "archives"))
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{db: db, store: st, dataDir: dir}
}

// command returns a Spec for a command source running script with sh.
func command(t *testing.T, name, script string, keep int) runner.Spec {
	t.Helper()
	src, err := source.New(name, config.Source{Kind: config.KindCommand, Command: []string{"sh", "-c", script}})
	if err != nil {
		t.Fatal(err)
	}
	return runner.Spec{Name: name, Source: src, Retention: domain.Retention{Last: keep}}
}

func (f *fixture) start(t *testing.T, specs ...runner.Spec) *runner.Runner {
	t.Helper()
	r := runner.New(f.db, f.store, specs, runner.Options{Workers: 2, Version: "test", TempDir: t.TempDir(), Logger: quiet})
	if err := r.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Shutdown(0) })
	return r
}

// wait polls the catalog until backup id reaches a final status.
func (f *fixture) wait(t *testing.T, id int64) domain.Backup {
	t.Helper()
	return f.waitFor(t, id, "a final status", func(b domain.Backup) bool { return b.Status.Final() })
}

// waitStatus polls until backup id has status s.
func (f *fixture) waitStatus(t *testing.T, id int64, s domain.Status) {
	t.Helper()
	f.waitFor(t, id, string(s), func(b domain.Backup) bool { return b.Status == s })
}

// waitFor polls the catalog until backup id satisfies done; the deadline
// only keeps a broken build from hanging.
func (f *fixture) waitFor(t *testing.T, id int64, what string, done func(domain.Backup) bool) domain.Backup {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, err := f.db.Backup(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if done(b) {
			return b
		}
		if time.Now().After(deadline) {
			t.Fatalf("backup %d is %s, never reached %s", id, b.Status, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// backup submits a backup of source and waits for its final status.
func (f *fixture) backup(t *testing.T, r *runner.Runner, source string) domain.Backup {
	t.Helper()
	b, err := r.Submit(context.Background(), source)
	if err != nil {
		t.Fatal(err)
	}
	return f.wait(t, b.ID)
}

func (f *fixture) archives(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir(f.store.Dir())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestBackupSucceedsWithItsArchive(t *testing.T) {
	f := newFixture(t)
	r := f.start(t, command(t, "echo", "echo hello", 0))
	b := f.backup(t, r, "echo")
	if b.Status != domain.StatusSucceeded || b.Archive != runner.ArchiveName(b) || b.SizeBytes == 0 {
		t.Fatalf("backup = %+v", b)
	}
	data, err := os.ReadFile(filepath.Join(f.store.Dir(), b.Archive))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if got := hex.EncodeToString(sum[:]); got != b.SHA256 || int64(len(data)) != b.SizeBytes {
		t.Errorf("archive: %d bytes, sha256 %s; catalog says %d, %s", len(data), got, b.SizeBytes, b.SHA256)
	}
	m, err := archive.Extract(context.Background(), strings.NewReader(string(data)), t.TempDir())
	if err != nil || m.Source != "echo" || m.BackupID != b.ID || m.Version != "test" {
		t.Fatalf("manifest = %+v, %v", m, err)
	}
}

func TestUnknownSource(t *testing.T) {
	f := newFixture(t)
	r := f.start(t)
	if _, err := r.Submit(context.Background(), "nope"); domain.ErrorCode(err) != domain.ENOTFOUND {
		t.Errorf("Submit(nope) = %v, want ENOTFOUND", err)
	}
}

// A failing command fails the backup with the tail of its stderr and
// leaves no archive behind.
func TestFailedCommandLeavesNoArchive(t *testing.T) {
	f := newFixture(t)
	r := f.start(t, command(t, "bad", "echo partial; echo 'disk on fire' >&2; exit 3", 0))
	b := f.backup(t, r, "bad")
	if b.Status != domain.StatusFailed || !strings.Contains(b.Error, "disk on fire") {
		t.Errorf("backup = %s %q, want failed with the stderr", b.Status, b.Error)
	}
	if names := f.archives(t); len(names) != 0 {
		t.Errorf("storage holds %v after a failed backup", names)
	}
}

// One active backup per source: a second request while the first runs is
// a conflict; canceling the running one makes it canceled and removes its
// partial archive.
func TestOneActiveBackupPerSourceAndCancel(t *testing.T) {
	f := newFixture(t)
	r := f.start(t, command(t, "slow", "echo start; sleep 30", 0))
	ctx := context.Background()
	b, err := r.Submit(ctx, "slow")
	if err != nil {
		t.Fatal(err)
	}
	f.waitStatus(t, b.ID, domain.StatusRunning)
	if _, err := r.Submit(ctx, "slow"); domain.ErrorCode(err) != domain.ECONFLICT {
		t.Fatalf("second Submit = %v, want ECONFLICT", err)
	}
	if _, err := r.Cancel(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	if b = f.wait(t, b.ID); b.Status != domain.StatusCanceled {
		t.Errorf("after Cancel: %s %q", b.Status, b.Error)
	}
	if names := f.archives(t); len(names) != 0 {
		t.Errorf("storage holds %v after a cancel", names)
	}
	if _, err := r.Cancel(ctx, b.ID); domain.ErrorCode(err) != domain.ECONFLICT {
		t.Errorf("Cancel of a canceled backup = %v, want ECONFLICT", err)
	}
}

// keep: 2 leaves the two newest archives and their records.
func TestRetentionKeepsNewest(t *testing.T) {
	f := newFixture(t)
	r := f.start(t, command(t, "k", "echo kept", 2))
	var ids []int64
	for range 3 {
		ids = append(ids, f.backup(t, r, "k").ID)
	}
	// Retention runs after the record is final: wait for it.
	deadline := time.Now().Add(30 * time.Second)
	for names := f.archives(t); len(names) != 2; names = f.archives(t) {
		if time.Now().After(deadline) {
			t.Fatalf("archives = %v, want the 2 newest", names)
		}
		time.Sleep(5 * time.Millisecond)
	}
	first, _ := f.db.Backup(context.Background(), ids[0])
	if first.Archive != "" || first.Status != domain.StatusSucceeded {
		t.Errorf("oldest record = %+v, want succeeded without an archive", first)
	}
}

// Shutdown waits for the grace period, then interrupts what still runs:
// failed, with no partial file left.
func TestShutdownInterruptsAfterGrace(t *testing.T) {
	f := newFixture(t)
	r := runner.New(f.db, f.store, []runner.Spec{command(t, "slow", "echo start; sleep 30", 0)},
		runner.Options{Workers: 1, TempDir: t.TempDir(), Logger: quiet})
	if err := r.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	b, err := r.Submit(context.Background(), "slow")
	if err != nil {
		t.Fatal(err)
	}
	f.waitStatus(t, b.ID, domain.StatusRunning)
	start := time.Now()
	r.Shutdown(200 * time.Millisecond)
	if took := time.Since(start); took < 200*time.Millisecond {
		t.Errorf("Shutdown returned after %v, before the grace period", took)
	}
	b, _ = f.db.Backup(context.Background(), b.ID)
	if b.Status != domain.StatusFailed || !strings.Contains(b.Error, "interrupted") {
		t.Errorf("after Shutdown: %s %q, want failed (interrupted)", b.Status, b.Error)
	}
	if names := f.archives(t); len(names) != 0 {
		t.Errorf("storage holds %v after Shutdown", names)
	}
	if _, err := r.Submit(context.Background(), "slow"); domain.ErrorCode(err) != domain.EUNAVAILABLE {
		t.Errorf("Submit after Shutdown = %v, want EUNAVAILABLE", err)
	}
}

// Open after a crash: a backup left running is failed (interrupted), its
// partial file removed, and a queued one runs.
func TestOpenRecoversFromCrash(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	crashed, err := f.db.CreateBackup(ctx, "echo", "command")
	if err == nil {
		crashed, err = f.db.StartBackup(ctx, crashed.ID, runner.ArchiveName(crashed))
	}
	if err != nil {
		t.Fatal(err)
	}
	partial := filepath.Join(f.store.Dir(), crashed.Archive+storage.PartialSuffix)
	if err := os.WriteFile(partial, []byte("half an archive"), 0o600); err != nil {
		t.Fatal(err)
	}
	queued, err := f.db.CreateBackup(ctx, "other", "command")
	if err != nil {
		t.Fatal(err)
	}

	f.start(t, command(t, "echo", "echo hello", 0), command(t, "other", "echo other", 0))
	b, _ := f.db.Backup(ctx, crashed.ID)
	if b.Status != domain.StatusFailed || b.Error != domain.ErrInterrupted {
		t.Errorf("crashed backup = %s %q, want failed %q", b.Status, b.Error, domain.ErrInterrupted)
	}
	if _, err := os.Stat(partial); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("partial archive still there: %v", err)
	}
	if q := f.wait(t, queued.ID); q.Status != domain.StatusSucceeded {
		t.Errorf("queued backup after Open = %s %q, want succeeded", q.Status, q.Error)
	}
}
