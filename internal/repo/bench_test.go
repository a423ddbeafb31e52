package repo_test

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"filippo.io/age"
	"github.com/klauspost/compress/zstd"

	"github.com/backupd/backupd/internal/repo"
)

// BenchmarkChunkHash measures what every byte of a backup goes through
// first: content-defined chunking and the keyed hash (through a backup of
// one stream into a repository that already has every chunk, so nothing
// is compressed or stored).
func BenchmarkChunkHash(b *testing.B) {
	data := content(rand.New(rand.NewPCG(1, 1)), 128<<20)
	be, _ := repo.NewLocal(b.TempDir())
	r := benchRepo(b, be, nil)
	put := func() {
		bk, err := r.NewBackup(context.Background(), repo.Meta{Source: "s"})
		if err != nil {
			b.Fatal(err)
		}
		if err := bk.AddStream(context.Background(), "s", bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
		if _, _, err := bk.Commit(context.Background(), nil); err != nil {
			b.Fatal(err)
		}
	}
	put()
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for b.Loop() {
		put()
	}
}

func benchRepo(b *testing.B, be repo.Backend, recipients []age.Recipient) *repo.Repo {
	p, err := repo.Init(context.Background(), be, recipients)
	if err != nil {
		b.Fatal(err)
	}
	r, err := repo.Open(context.Background(), be, repo.Options{Params: &p, Recipients: recipients})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { r.Close() })
	return r
}

// benchTree is a generated tree of about 160 MB, made once per run.
func benchTree(b *testing.B) string {
	dir := filepath.Join(b.TempDir(), "src")
	genTree(b, dir, 42, 160<<20)
	return dir
}

// BenchmarkBackup is a first backup of a 160 MB tree into a new
// repository, plain and encrypted.
func BenchmarkBackup(b *testing.B) {
	src := benchTree(b)
	size := treeSize(b, src)
	id, _ := age.GenerateX25519Identity()
	for _, c := range []struct {
		name       string
		recipients []age.Recipient
	}{{"plain", nil}, {"encrypted", []age.Recipient{id.Recipient()}}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(size)
			for b.Loop() {
				be, _ := repo.NewLocal(filepath.Join(b.TempDir(), "repo"))
				backup(b, benchRepo(b, be, c.recipients), "src", src)
			}
		})
	}
}

// BenchmarkRestore restores a 160 MB tree from an encrypted repository,
// against the baseline the design promises to stay within 1.25x of:
// `zstd -dc | tar -x` of the same tree.
func BenchmarkRestore(b *testing.B) {
	src := benchTree(b)
	size := treeSize(b, src)
	id, _ := age.GenerateX25519Identity()
	be, _ := repo.NewLocal(filepath.Join(b.TempDir(), "repo"))
	w := benchRepo(b, be, []age.Recipient{id.Recipient()})
	s := backup(b, w, "src", src)
	r, err := repo.Open(context.Background(), be, repo.Options{Identities: []age.Identity{id}})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	b.Run("repo", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			if err := r.Restore(context.Background(), s, filepath.Join(b.TempDir(), "dst"), repo.RestoreOptions{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	archive := filepath.Join(b.TempDir(), "src.tar.zst")
	writeTarZst(b, r, s, archive)
	zstdBin, errZ := exec.LookPath("zstd")
	if errZ != nil {
		b.Skip("zstd is not installed: no baseline")
	}
	b.Run("zstd-tar", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			dst := filepath.Join(b.TempDir(), "dst")
			os.MkdirAll(dst, 0o755)
			cmd := exec.Command("sh", "-c", zstdBin+` -dc "$1" | tar -x -C "$2"`, "sh", archive, dst)
			if out, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("%v: %s", err, out)
			}
		}
	})
}

func writeTarZst(b *testing.B, r *repo.Repo, s repo.Snapshot, path string) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	zw, _ := zstd.NewWriter(f, zstd.WithEncoderLevel(zstd.SpeedFastest))
	if err := r.Tar(context.Background(), s, zw); err != nil {
		b.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		b.Fatal(err)
	}
}

func treeSize(b *testing.B, dir string) int64 {
	var n int64
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
		return nil
	})
	return n
}
