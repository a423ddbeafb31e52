package catalog_test

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/backupd/backupd/internal/catalog"
	"github.com/backupd/backupd/internal/domain"
	"github.com/backupd/backupd/internal/testenv"
	"github.com/backupd/backupd/migrations"
)

func openDB(t *testing.T) *catalog.DB {
	t.Helper()
	db, err := catalog.Open(context.Background(), filepath.Join(t.TempDir(), "catalog.db"), migrations.FS)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestMigrationsRecordedOnce(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "catalog.db")
	for i := 0; i < 2; i++ {
		db, err := catalog.Open(ctx, path, migrations.FS)
		if err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
		names, err := db.Migrations(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(names) == 0 || names[0] != "0001_init.sql" {
			t.Fatalf("applied migrations = %v, want 0001_init.sql first", names)
		}
		db.Close()
	}
}

func TestBackupLifecycleWritesEvents(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	b, err := db.CreateBackup(ctx, "docs", "files")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := b.Status, domain.StatusQueued; got != want {
		t.Fatalf("status = %s, want %s", got, want)
	}
	_, err = db.CreateBackup(ctx, "docs", "files")
	if got, want := domain.ErrorCode(err), domain.ECONFLICT; got != want {
		t.Fatalf("second create: code = %q (%v), want %q", got, err, want)
	}
	if _, err := db.StartBackup(ctx, b.ID, "docs.tar.zst"); err != nil {
		t.Fatal(err)
	}
	done, err := db.FinishBackup(ctx, b.ID, domain.Finish{Status: domain.StatusSucceeded, SizeBytes: 42, SHA256: "ab"})
	if err != nil {
		t.Fatal(err)
	}
	if done.Status != domain.StatusSucceeded || done.SizeBytes != 42 || done.Archive != "docs.tar.zst" || done.FinishedAt == nil {
		t.Fatalf("finished backup = %+v", done)
	}
	evs, err := db.ListEvents(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{domain.EventBackupQueued, domain.EventBackupStarted, domain.EventBackupSucceeded}
	if len(evs) != len(want) {
		t.Fatalf("events = %+v, want types %v", evs, want)
	}
	for i, ev := range evs {
		if ev.Type != want[i] || ev.ID != int64(i+1) || ev.BackupID != b.ID || ev.Source != "docs" {
			t.Errorf("event %d = %+v, want type %s id %d", i, ev, want[i], i+1)
		}
	}
	// A transition from the wrong state changes nothing and adds no event.
	if _, err := db.StartBackup(ctx, b.ID, "x"); domain.ErrorCode(err) != domain.ECONFLICT {
		t.Fatalf("restart finished backup: %v, want conflict", err)
	}
	if n, _ := db.LastEventID(ctx); n != 3 {
		t.Fatalf("last event id = %d, want 3", n)
	}
}

func TestBackupsFilterAndPage(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	for _, src := range []string{"a", "b", "c"} {
		b, err := db.CreateBackup(ctx, src, "files")
		if err != nil {
			t.Fatal(err)
		}
		if src != "b" {
			if _, err := db.CancelQueued(ctx, b.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	page, err := db.Backups(ctx, domain.BackupFilter{Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(page) != 2 || page[0].Source != "c" || page[1].Source != "b" {
		t.Fatalf("first page = %+v", page)
	}
	next, err := db.Backups(ctx, domain.BackupFilter{Limit: 2, Before: page[1].ID})
	if err != nil || len(next) != 1 || next[0].Source != "a" {
		t.Fatalf("second page = %+v, %v", next, err)
	}
	canceled, err := db.Backups(ctx, domain.BackupFilter{Status: domain.StatusCanceled})
	if err != nil || len(canceled) != 2 {
		t.Fatalf("canceled = %+v, %v", canceled, err)
	}
	if _, err := db.Backup(ctx, 999); domain.ErrorCode(err) != domain.ENOTFOUND {
		t.Fatalf("missing backup: %v, want not found", err)
	}
}

func TestRecoverMarksRunningInterruptedAndKeepsQueued(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	run, _ := db.CreateBackup(ctx, "a", "files")
	if _, err := db.StartBackup(ctx, run.ID, "a.tar.zst"); err != nil {
		t.Fatal(err)
	}
	queued, _ := db.CreateBackup(ctx, "b", "files")
	interrupted, still, err := db.Recover(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(interrupted) != 1 || interrupted[0].ID != run.ID || interrupted[0].Archive != "a.tar.zst" {
		t.Fatalf("interrupted = %+v", interrupted)
	}
	if len(still) != 1 || still[0].ID != queued.ID {
		t.Fatalf("queued = %+v", still)
	}
	b, _ := db.Backup(ctx, run.ID)
	if b.Status != domain.StatusFailed || b.Error != domain.ErrInterrupted || b.Archive != "" {
		t.Fatalf("after recover = %+v", b)
	}
}

func TestWatchSeesOwnAndForeignCommits(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	db := openDB(t)
	got := make(chan domain.Event, 10)
	done := make(chan error, 1)
	go func() { done <- db.Watch(ctx, 0, 50*time.Millisecond, func(ev domain.Event) { got <- ev }) }()

	if _, err := db.CreateBackup(ctx, "docs", "files"); err != nil {
		t.Fatal(err)
	}
	if ev := testenv.Recv(t, got, "the first event"); ev.ID != 1 || ev.Type != domain.EventBackupQueued {
		t.Fatalf("first event = %+v", ev)
	}
	sqlite3 := testenv.Command(t, "sqlite3")
	out, err := exec.Command(sqlite3, db.Path(),
		`PRAGMA busy_timeout=5000; INSERT INTO events (type, source, time, data) VALUES ('report.received', 'ext', datetime('now'), '{"x":1}');`).CombinedOutput()
	if err != nil {
		t.Fatalf("sqlite3: %v: %s", err, out)
	}
	ev := testenv.Recv(t, got, "the event committed by sqlite3")
	if ev.ID != 2 || ev.Type != "report.received" || ev.Source != "ext" || string(ev.Data) != `{"x":1}` {
		t.Fatalf("foreign event = %+v", ev)
	}
	cancel()
	if err := testenv.Recv(t, done, "the watcher to stop"); err != nil {
		t.Fatal(err)
	}
}
