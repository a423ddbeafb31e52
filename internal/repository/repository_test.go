package repository_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"filippo.io/age"

	"github.com/backupd/backupd/internal/archive"
	"github.com/backupd/backupd/internal/catalog"
	"github.com/backupd/backupd/internal/domain"
	"github.com/backupd/backupd/internal/repo"
	"github.com/backupd/backupd/internal/repository"
	"github.com/backupd/backupd/internal/testenv"
	"github.com/backupd/backupd/migrations"
)

var quiet = slog.New(slog.DiscardHandler)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testenv.WaitTimeout)
	t.Cleanup(cancel)
	return ctx
}

type fixture struct {
	db   *catalog.DB
	be   repo.Backend
	data string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	data := t.TempDir()
	db, err := catalog.Open(context.Background(), filepath.Join(data, "catalog.db"), migrations.FS)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	be, err := repo.NewLocal(filepath.Join(data, "archives", "repo"))
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{db: db, be: be, data: data}
}

func (f *fixture) open(t *testing.T, rs []age.Recipient, ids []age.Identity) (*repository.Repository, error) {
	t.Helper()
	x, err := repository.Open(ctxT(t), f.db, repository.Options{Backend: f.be, Recipients: rs, Identities: ids,
		CacheDir: filepath.Join(f.data, "repo-cache"), ExportDir: filepath.Join(f.data, "exports"), Version: "test", Logger: quiet})
	if err == nil {
		t.Cleanup(func() { x.Close() })
	}
	return x, err
}

func (f *fixture) mustOpen(t *testing.T, rs []age.Recipient, ids []age.Identity) *repository.Repository {
	t.Helper()
	x, err := f.open(t, rs, ids)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// backup stores dir as a files backup and records it as the runner does.
func (f *fixture) backup(t *testing.T, x *repository.Repository, dir string) domain.Backup {
	t.Helper()
	ctx := ctxT(t)
	b, err := f.db.CreateBackup(ctx, "docs", "files")
	if err != nil {
		t.Fatal(err)
	}
	if b, err = f.db.StartBackup(ctx, b.ID, "docs-"+b.CreatedAt.Format("150405.000000000")+".tar.zst"); err != nil {
		t.Fatal(err)
	}
	bk, err := x.NewBackup(ctx, repo.Meta{Source: "docs", Kind: "files", BackupID: b.ID, StartedAt: *b.StartedAt})
	if err != nil {
		t.Fatal(err)
	}
	defer bk.Abort()
	if err := bk.AddDir(ctx, dir, nil); err != nil {
		t.Fatal(err)
	}
	snap, st, err := bk.Commit(ctx, []byte(`{"note":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	b, err = f.db.FinishBackup(ctx, b.ID, domain.Finish{Status: domain.StatusSucceeded, SizeBytes: snap.Size,
		Snapshot: snap.ID.String(), LogicalBytes: snap.Size, AddedBytes: st.BytesStored})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func tree(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for p, data := range map[string]string{"a.txt": "alpha\n", "sub/b.txt": "beta\n", "sub/deep/c.bin": string(bytes.Repeat([]byte{1, 2, 3}, 100000))} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, p), []byte(data), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("a.txt", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	return dir
}

// The first start makes the repository and keeps its parameters in the
// catalog; the next starts use them; recipients that do not match the
// repository stop the start with what to do.
func TestOpenKeepsParams(t *testing.T) {
	f := newFixture(t)
	x := f.mustOpen(t, nil, nil)
	p1 := x.Repo().Params()
	x.Close()
	if ok, _ := repo.Exists(ctxT(t), f.be); !ok {
		t.Fatal("no repository in the store after the first start")
	}
	if x2 := f.mustOpen(t, nil, nil); x2.Repo().Params().RepoID != p1.RepoID {
		t.Fatal("a second start made another repository")
	}
	id, _ := age.GenerateX25519Identity()
	if _, err := f.open(t, []age.Recipient{id.Recipient()}, nil); err == nil {
		t.Fatal("recipients on an unencrypted repository were accepted")
	}
}

// A crash between keeping the parameters and making the repository is
// completed at the next start.
func TestOpenCompletesInterruptedInit(t *testing.T) {
	f := newFixture(t)
	p := repo.NewParams(false)
	enc, _ := repo.MarshalParams(p)
	if err := f.db.SaveRepoParams(ctxT(t), enc); err != nil {
		t.Fatal(err)
	}
	x := f.mustOpen(t, nil, nil)
	if x.Repo().Params().RepoID != p.RepoID {
		t.Fatal("the kept parameters were not used")
	}
	if ok, _ := repo.Exists(ctxT(t), f.be); !ok {
		t.Fatal("the repository was not made")
	}
}

// An export is a backupd archive of the snapshot: it unpacks with the
// archive reader to the tree, byte for byte; the catalog records its
// digest and size; built again after eviction it has the same bytes.
func TestExport(t *testing.T) {
	f := newFixture(t)
	x := f.mustOpen(t, nil, nil)
	src := tree(t)
	b := f.backup(t, x, src)
	ex, err := x.Export(ctxT(t), b)
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(ex.File)
	ex.File.Close()
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if hex.EncodeToString(sum[:]) != ex.SHA256 || int64(len(data)) != ex.Size {
		t.Fatalf("export: %d bytes, want %d with its digest", len(data), ex.Size)
	}
	rec, _ := f.db.Backup(ctxT(t), b.ID)
	if rec.SHA256 != ex.SHA256 || rec.ExportBytes != ex.Size {
		t.Fatalf("catalog: %s %d, export %s %d", rec.SHA256, rec.ExportBytes, ex.SHA256, ex.Size)
	}
	out := t.TempDir()
	m, err := archive.Extract(ctxT(t), bytes.NewReader(data), out)
	if err != nil {
		t.Fatal(err)
	}
	if m.BackupID != b.ID || m.Kind != "files" || string(m.Info["note"].(string)) != "x" {
		t.Fatalf("manifest = %+v", m)
	}
	compareTrees(t, src, out)

	again, err := x.Export(ctxT(t), rec)
	if err != nil {
		t.Fatal(err)
	}
	again.File.Close()
	os.RemoveAll(filepath.Join(f.data, "exports"))
	os.MkdirAll(filepath.Join(f.data, "exports"), 0o700)
	rebuilt, err := x.Export(ctxT(t), rec)
	if err != nil {
		t.Fatal(err)
	}
	rebuilt.File.Close()
	if rebuilt.SHA256 != ex.SHA256 {
		t.Fatalf("rebuilt export has digest %s, the first %s", rebuilt.SHA256, ex.SHA256)
	}

	ents, err := x.Tree(ctxT(t), b, "sub")
	if err != nil || len(ents) != 2 || ents[0].Name != "b.txt" || ents[0].Size != 5 || ents[0].Mode != 0o640 || ents[1].Type != "dir" {
		t.Fatalf("tree of sub: %+v, %v", ents, err)
	}
	if _, err := x.Tree(ctxT(t), b, "nope"); domain.ErrorCode(err) != domain.ENOTFOUND {
		t.Fatalf("tree of a missing dir: %v", err)
	}
}

// Without the identity, an encrypted repository is written (and
// deduplicates) but not read: export, tree and a data check say why.
func TestEncryptedWithoutIdentity(t *testing.T) {
	f := newFixture(t)
	id, _ := age.GenerateX25519Identity()
	x := f.mustOpen(t, []age.Recipient{id.Recipient()}, nil)
	src := tree(t)
	first := f.backup(t, x, src)
	second := f.backup(t, x, src)
	if first.AddedBytes == 0 || second.AddedBytes*10 > first.AddedBytes {
		t.Fatalf("added %d then %d bytes: the second backup of the same tree did not deduplicate", first.AddedBytes, second.AddedBytes)
	}
	if _, err := x.Export(ctxT(t), first); domain.ErrorCode(err) != domain.ECONFLICT {
		t.Fatalf("export without identity: %v", err)
	}
	if _, err := x.Tree(ctxT(t), first, ""); domain.ErrorCode(err) != domain.ECONFLICT {
		t.Fatalf("tree without identity: %v", err)
	}
	if _, err := x.Check(ctxT(t), true); domain.ErrorCode(err) != domain.ECONFLICT {
		t.Fatalf("data check without identity: %v", err)
	}
	res, err := x.Check(ctxT(t), false)
	if err != nil || !res.OK || res.Limited == "" {
		t.Fatalf("structure check without identity: %+v, %v", res, err)
	}
	x.Close()

	// With the identity the same repository is read: its export is
	// age-encrypted and decrypts to the tree.
	xi := f.mustOpen(t, []age.Recipient{id.Recipient()}, []age.Identity{id})
	ex, err := xi.Export(ctxT(t), second)
	if err != nil {
		t.Fatal(err)
	}
	defer ex.File.Close()
	plain, err := archive.Decrypt(ex.File, []age.Identity{id})
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	if _, err := archive.Extract(ctxT(t), plain, out); err != nil {
		t.Fatal(err)
	}
	compareTrees(t, src, out)
	if res, err := xi.Check(ctxT(t), true); err != nil || !res.OK || res.Limited != "" {
		t.Fatalf("data check with identity: %+v, %v", res, err)
	}
}

func compareTrees(t *testing.T, want, got string) {
	t.Helper()
	err := filepath.WalkDir(want, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(want, p)
		q := filepath.Join(got, rel)
		wi, _ := os.Lstat(p)
		gi, err := os.Lstat(q)
		if err != nil {
			t.Errorf("%s: not restored: %v", rel, err)
			return nil
		}
		if wi.Mode() != gi.Mode() {
			t.Errorf("%s: mode %v, want %v", rel, gi.Mode(), wi.Mode())
		}
		if wi.Mode().IsRegular() {
			a, _ := os.ReadFile(p)
			b, _ := os.ReadFile(q)
			if !bytes.Equal(a, b) {
				t.Errorf("%s: content differs", rel)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
