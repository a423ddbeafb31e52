package repo_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/backupd/backupd/internal/repo"
	"github.com/backupd/backupd/internal/testenv"
)

// genTree writes a tree of about size bytes below dir: many small files,
// a few large ones, directories and a symlink. Half of each file is text,
// so that compression has something to do.
func genTree(t testing.TB, dir string, seed uint64, size int64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	for written, i := int64(0), 0; written < size; i++ {
		n := int64(rng.IntN(64<<10) + 1)
		if i%20 == 0 {
			n = int64(rng.IntN(4<<20) + 1<<20)
		}
		p := filepath.Join(dir, fmt.Sprintf("d%d", i%7), fmt.Sprintf("s%d", i%3), fmt.Sprintf("f%04d.dat", i))
		writeFile(t, p, content(rng, n))
		written += n
	}
	if err := os.Symlink("d0/s0", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
}

func content(rng *rand.Rand, n int64) []byte {
	b := make([]byte, n)
	cc := rand.NewChaCha8([32]byte{byte(rng.Uint64()), byte(rng.Uint64()), byte(rng.Uint64())})
	cc.Read(b[:n/2])
	for i := n / 2; i < n; i++ {
		b[i] = "the quick brown fox jumps over the lazy dog\n"[i%44]
	}
	return b
}

func writeFile(t testing.TB, p string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// mutate changes a few files: one rewritten in the middle, one appended
// to, one new, one removed.
func mutate(t testing.TB, dir string, seed uint64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 2))
	var files []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			files = append(files, p)
		}
		return nil
	})
	if len(files) < 3 {
		t.Fatalf("too few files to mutate in %s", dir)
	}
	big := files[0]
	for _, f := range files {
		if st, _ := os.Stat(f); st.Size() > 1<<20 {
			big = f
			break
		}
	}
	data, _ := os.ReadFile(big)
	copy(data[len(data)/2:], "changed in the middle")
	writeFile(t, big, data)
	f, err := os.OpenFile(files[rng.IntN(len(files))], os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("appended\n")
	f.Close()
	writeFile(t, filepath.Join(dir, fmt.Sprintf("new-%d.txt", seed)), content(rng, 10<<10))
	os.Remove(files[rng.IntN(len(files))])
	// An mtime change is what a backup must notice even for a file whose
	// size stayed.
	later := time.Now().Add(time.Duration(seed) * time.Second)
	os.Chtimes(big, later, later)
}

// digest describes every path below dir: type, mode, size, mtime and a
// SHA-256 of the content (or the link target).
func digest(t testing.TB, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			out[rel] = "link " + l
		case fi.IsDir():
			out[rel] = fmt.Sprintf("dir %v", fi.Mode())
		default:
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(data)
			out[rel] = fmt.Sprintf("file %v %d %d %s", fi.Mode(), fi.Size(), fi.ModTime().UnixNano(), hex.EncodeToString(sum[:]))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sameTree(t testing.TB, got, want map[string]string) {
	t.Helper()
	for p, w := range want {
		if g, ok := got[p]; !ok {
			t.Errorf("restore lacks %s", p)
		} else if g != w {
			t.Errorf("%s: restored %q, want %q", p, g, w)
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			t.Errorf("restore has %s, which the source had not", p)
		}
	}
}

// storedBytes adds up the sizes of the packs in the store.
func storedBytes(t testing.TB, be repo.Backend) int64 {
	t.Helper()
	var n int64
	if err := be.List(context.Background(), "packs/", func(o repo.ObjectInfo) error { n += o.Size; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

func backup(t testing.TB, r *repo.Repo, source, dir string) repo.Snapshot {
	t.Helper()
	s, _ := backupStats(t, r, source, dir)
	return s
}

func backupStats(t testing.TB, r *repo.Repo, source, dir string) (repo.Snapshot, repo.Stats) {
	t.Helper()
	return backupHookStats(t, r, source, dir, nil)
}

// backupHook backs dir up, calling hook with the number of each entry
// before it is added.
func backupHook(t testing.TB, r *repo.Repo, source, dir string, hook func(n int)) repo.Snapshot {
	t.Helper()
	s, _ := backupHookStats(t, r, source, dir, hook)
	return s
}

func backupHookStats(t testing.TB, r *repo.Repo, source, dir string, hook func(n int)) (repo.Snapshot, repo.Stats) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testenv.WaitTimeout)
	defer cancel()
	b, err := r.NewBackup(ctx, repo.Meta{Source: source, Kind: "files", Host: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Abort()
	n := 0
	skip := func(string, fs.DirEntry) bool {
		if n++; hook != nil {
			hook(n)
		}
		return false
	}
	if err := b.AddDir(ctx, dir, skip); err != nil {
		t.Fatal(err)
	}
	s, st, err := b.Commit(ctx, []byte(`{"files":"yes"}`))
	if err != nil {
		t.Fatal(err)
	}
	return s, st
}

func restoreAndCompare(t testing.TB, r *repo.Repo, s repo.Snapshot, want map[string]string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testenv.WaitTimeout)
	defer cancel()
	dst := filepath.Join(t.TempDir(), "restore")
	if err := r.Restore(ctx, s, dst, repo.RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	sameTree(t, digest(t, dst), want)
}
