package restore_test

import (
	"context"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/backupd/backupd/internal/catalog"
	"github.com/backupd/backupd/internal/config"
	"github.com/backupd/backupd/internal/dbtest"
	"github.com/backupd/backupd/internal/domain"
	"github.com/backupd/backupd/internal/repo"
	"github.com/backupd/backupd/internal/repository"
	"github.com/backupd/backupd/internal/restore"
	"github.com/backupd/backupd/internal/runner"
	"github.com/backupd/backupd/internal/source"
	"github.com/backupd/backupd/internal/storage"
	"github.com/backupd/backupd/internal/testenv"
	"github.com/backupd/backupd/migrations"
)

var quiet = slog.New(slog.DiscardHandler)

// stack is a catalog, a repository and a runner storing into it, and a
// drill reading from it: the daemon's parts, without HTTP.
type stack struct {
	db    *catalog.DB
	x     *repository.Repository
	run   *runner.Runner
	drill *restore.Drill
	dir   string
}

func newStack(t *testing.T, sources map[string]config.Source) *stack {
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
	be, err := repo.NewLocal(filepath.Join(dir, "archives", "repo"))
	if err != nil {
		t.Fatal(err)
	}
	x, err := repository.Open(context.Background(), db, repository.Options{Backend: be, PackSize: 1 << 20, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { x.Close() })
	var specs []runner.Spec
	for name, cfg := range sources {
		src, err := source.New(name, cfg)
		if err != nil {
			t.Fatal(err)
		}
		specs = append(specs, runner.Spec{Name: name, Source: src})
	}
	tmp := t.TempDir()
	r := runner.New(db, st, specs, runner.Options{Workers: 1, TempDir: tmp, Logger: quiet, Repository: x})
	if err := r.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Shutdown(0) })
	return &stack{db: db, x: x, run: r, dir: dir,
		drill: &restore.Drill{Store: db, Archives: st, Sources: sources, TempDir: tmp, Logger: quiet, Repo: x.Repo()}}
}

func (s *stack) backup(t *testing.T, source string) domain.Backup {
	t.Helper()
	b, err := s.run.Submit(context.Background(), source)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(testenv.WaitTimeout)
	for !b.Status.Final() {
		if time.Now().After(deadline) {
			t.Fatalf("backup %d did not finish", b.ID)
		}
		time.Sleep(10 * time.Millisecond)
		b, _ = s.db.Backup(context.Background(), b.ID)
	}
	if b.Status != domain.StatusSucceeded || b.Snapshot == "" {
		t.Fatalf("backup %d: %s %q", b.ID, b.Status, b.Error)
	}
	return b
}

func (s *stack) verify(t *testing.T, b domain.Backup) domain.Backup {
	t.Helper()
	got, err := s.drill.Verify(context.Background(), b.ID)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// A drill of a files backup in the repository restores every chunk and
// checks the tree; a damaged pack fails it, saying what.
func TestDrillOfRepositoryFiles(t *testing.T) {
	src := t.TempDir()
	for i, name := range []string{"a.txt", "d/b.txt", "d/e/c.txt"} {
		p := filepath.Join(src, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(strings.Repeat("content ", 1000*(i+1))), 0o644)
	}
	os.Symlink("a.txt", filepath.Join(src, "link"))
	s := newStack(t, map[string]config.Source{"docs": {Kind: config.KindFiles, Path: src}})
	b := s.backup(t, "docs")
	if got := s.verify(t, b); got.VerifyStatus != catalog.VerifyPassed {
		t.Fatalf("drill: %s %q", got.VerifyStatus, got.VerifyError)
	}
	// Flip a byte in the middle of every pack.
	filepath.WalkDir(filepath.Join(s.dir, "archives", "repo", "packs"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			data, _ := os.ReadFile(p)
			data[len(data)/3] ^= 0x40
			os.WriteFile(p, data, 0o600)
		}
		return nil
	})
	if got := s.verify(t, b); got.VerifyStatus != catalog.VerifyFailed || !strings.Contains(got.VerifyError, "does not restore") {
		t.Fatalf("drill of a damaged repository: %s %q", got.VerifyStatus, got.VerifyError)
	}
}

// A database drill streams each dump from the repository into the
// engine's restore tool and compares row counts.
func TestDrillOfRepositoryDatabases(t *testing.T) {
	for _, kind := range []string{config.KindPostgres, config.KindMySQL} {
		t.Run(kind, func(t *testing.T) {
			var srv source.Server
			if kind == config.KindPostgres {
				srv = dbtest.Postgres(t)
			} else {
				srv = dbtest.MySQL(t)
			}
			db := dbtest.NewDB(t, srv)
			dbtest.Fill(t, srv, db, 2000)
			s := newStack(t, map[string]config.Source{"shop": dbtest.SourceConfig(srv, db)})
			b := s.backup(t, "shop")
			if got := s.verify(t, b); got.VerifyStatus != catalog.VerifyPassed {
				t.Fatalf("drill: %s %q", got.VerifyStatus, got.VerifyError)
			}
		})
	}
}
