package main_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/backupd/backupd/internal/domain"
	"github.com/backupd/backupd/internal/miniotest"
	"github.com/backupd/backupd/internal/testdaemon"
)

// noDaemon is a server URL where nothing listens: the commands under test
// must not need one.
const noDaemon = "http://127.0.0.1:1"

// backupctlEnv runs backupctl with only env added to the environment and
// no daemon, and fails t unless it exits with want.
func backupctlEnv(t *testing.T, env []string, want int, args ...string) (string, string) {
	t.Helper()
	_, bin := testdaemon.Binaries(t)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(append(os.Environ(), "BACKUPD_URL="+noDaemon), env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if code != want {
		t.Fatalf("backupctl %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, want, out.String(), errOut.String())
	}
	return out.String(), errOut.String()
}

// succeeded backs source up through d and waits for it to succeed.
func succeeded(t *testing.T, d *testdaemon.Daemon, source string) domain.Backup {
	t.Helper()
	b, err := d.Client().CreateBackup(context.Background(), source)
	if err != nil {
		t.Fatal(err)
	}
	if b = d.WaitBackup(b.ID); b.Status != domain.StatusSucceeded || b.Snapshot == "" {
		t.Fatalf("backup %d: %s %q, snapshot %q", b.ID, b.Status, b.Error, b.Snapshot)
	}
	return b
}

// sampleTree makes a tree with what a restore can get wrong: nested
// directories, modes, a symlink, an empty file and a file of several
// chunks.
func sampleTree(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(14, 14))
	big := make([]byte, 5<<20)
	for i := range big {
		big[i] = byte(rng.Uint32())
	}
	files := map[string][]byte{"a.txt": []byte("alpha ✓\n"), "etc/app.conf": []byte("port = 80\n"),
		"etc/empty": nil, "data/big.bin": big, "data/deep/er/x": []byte("x")}
	for name, b := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, b, 0o640); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(filepath.Join(dir, "etc", "app.conf"), 0o600)
	os.Symlink("../a.txt", filepath.Join(dir, "etc", "link"))
	return dir
}

// snapshotOf describes every entry below dir (type, mode, content or
// link target), keyed by its relative path, for comparing two trees.
func snapshotOf(t *testing.T, dir string) map[string]string {
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
		desc := fmt.Sprintf("%s %o %d", fi.Mode().Type(), fi.Mode().Perm(), fi.ModTime().UnixNano())
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			link, _ := os.Readlink(p)
			desc += " -> " + link
		case d.Type().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			desc += fmt.Sprintf(" %d bytes, sha256 %x", len(b), sha256.Sum256(b))
		}
		out[filepath.ToSlash(rel)] = desc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// sameTree fails t unless got holds exactly what want holds.
func sameTree(t *testing.T, want, got string) {
	t.Helper()
	w, g := snapshotOf(t, want), snapshotOf(t, got)
	for p, d := range w {
		if g[p] != d {
			t.Errorf("%s: restored %q, want %q", p, g[p], d)
		}
	}
	for p := range g {
		if _, ok := w[p]; !ok {
			t.Errorf("%s: restored, but not in the source", p)
		}
	}
}

// copyDir copies src to a new temp dir with cp -a, as an operator saving
// the repository would.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "saved")
	if out, err := exec.Command("cp", "-a", src, dst).CombinedOutput(); err != nil {
		t.Fatalf("cp -a: %v %s", err, out)
	}
	return dst
}

func ageKey(t *testing.T) (*age.X25519Identity, string) {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "backupd.key")
	if err := os.WriteFile(file, []byte(id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return id, file
}

// A daemon backs a files source up, is stopped, and its data_dir is
// deleted but for a copy of the repository: backupctl restores the
// backup from that copy byte for byte, lists it, and checks it, with no
// daemon and no catalog. The same with an encrypted repository whose
// daemon had no identity, and --identity.
func TestRestoreFromRepositoryAlone(t *testing.T) {
	src := sampleTree(t)
	for _, encrypted := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "encrypted"}[encrypted], func(t *testing.T) {
			config := fmt.Sprintf("sources:\n  tree: {kind: files, path: %q}\n", src)
			var keyArgs []string
			if encrypted {
				id, file := ageKey(t)
				config += fmt.Sprintf("encryption:\n  recipients: [%s]\n", id.Recipient())
				keyArgs = []string{"--identity", file}
			}
			data := t.TempDir()
			d := testdaemon.Start(t, testdaemon.Options{Config: config, DataDir: data})
			b := succeeded(t, d, "tree")
			d.Stop()
			saved := copyDir(t, filepath.Join(data, "archives", "repo"))
			if err := os.RemoveAll(data); err != nil {
				t.Fatal(err)
			}
			id := fmt.Sprint(b.ID)

			if encrypted {
				_, errOut := backupctlEnv(t, nil, 2, "restore", id, "--to", t.TempDir(), "--repo", saved)
				if !strings.Contains(errOut, "--identity FILE") {
					t.Errorf("restore of an encrypted repository without --identity: %s", errOut)
				}
			}
			to := filepath.Join(t.TempDir(), "restored")
			out, _ := backupctlEnv(t, nil, 0, append([]string{"restore", id, "--to", to, "--repo", saved}, keyArgs...)...)
			if !strings.Contains(out, "every chunk checked") {
				t.Errorf("restore says: %s", out)
			}
			sameTree(t, src, to)

			// By snapshot id prefix, only some paths, from the dir above repo/.
			part := t.TempDir()
			backupctlEnv(t, nil, 0, append([]string{"restore", b.Snapshot[:10], "--to", part, "--repo", filepath.Dir(saved) + "/saved",
				"--path", "etc", "--path", "data/deep/er/x"}, keyArgs...)...)
			got := snapshotOf(t, part)
			for _, p := range []string{"etc/app.conf", "etc/link", "etc/empty", "data/deep/er/x"} {
				if _, ok := got[p]; !ok {
					t.Errorf("--path etc --path data/deep/er/x did not restore %s: %v", p, got)
				}
			}
			if _, ok := got["data/big.bin"]; ok {
				t.Errorf("--path restored data/big.bin too")
			}
			if _, errOut := backupctlEnv(t, nil, 1, append([]string{"restore", id, "--to", t.TempDir(), "--repo", saved, "--path", "nope"}, keyArgs...)...); !strings.Contains(errOut, "has no nope") {
				t.Errorf("--path nope: %s", errOut)
			}

			shapes := documentedShapes(t)
			list := decode(t, "ls --repo", must(backupctlEnv(t, nil, 0, append([]string{"ls", "--repo", saved, "-o", "json"}, keyArgs...)...)))
			snaps := list.([]any)
			if len(snaps) != 1 {
				t.Fatalf("ls --repo: %v", snaps)
			}
			sameKeys(t, shapes, "snapshot", snaps[0])
			if s := snaps[0].(map[string]any); s["id"] != b.Snapshot || s["backup_id"] != float64(b.ID) {
				t.Errorf("ls --repo: %v, want snapshot %s of backup %d", s, b.Snapshot, b.ID)
			}
			tree := decode(t, "ls --repo ID etc", must(backupctlEnv(t, nil, 0, append([]string{"ls", "--repo", saved, id, "etc", "-o", "json"}, keyArgs...)...)))
			sameKeys(t, shapes, "tree", tree)
			entries := tree.(map[string]any)["entries"].([]any)
			if len(entries) != 3 {
				t.Fatalf("ls etc: %v", entries)
			}
			for _, e := range entries {
				sameKeys(t, shapes, "tree_entry", e)
			}

			check := decode(t, "check --repo", must(backupctlEnv(t, nil, 0, append([]string{"check", "--repo", saved, "--read-data", "-o", "json"}, keyArgs...)...)))
			sameKeys(t, shapes, "check", check)
			// A flipped byte in a pack: check and restore both fail.
			var pack string
			filepath.WalkDir(filepath.Join(saved, "packs"), func(p string, d fs.DirEntry, err error) error {
				if err == nil && d.Type().IsRegular() {
					if fi, _ := d.Info(); fi.Size() > 4<<20 {
						pack = p
					}
				}
				return nil
			})
			if pack == "" {
				t.Fatal("no pack over 4 MiB in the repository")
			}
			flip(t, pack, 1<<20)
			out, _ = backupctlEnv(t, nil, 1, append([]string{"check", "--repo", saved, "--read-data"}, keyArgs...)...)
			if !strings.Contains(out, "problems") {
				t.Errorf("check of a damaged pack: %s", out)
			}
			backupctlEnv(t, nil, 1, append([]string{"restore", id, "--to", t.TempDir(), "--repo", saved}, keyArgs...)...)
		})
	}
}

func must(out, _ string) string { return out }

func flip(t *testing.T, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	f.ReadAt(b, off)
	b[0] ^= 0xff
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// The same from a real MinIO bucket: s3:// with the AWS variables, over
// plain HTTP, the daemon gone.
func TestRestoreFromS3RepositoryAlone(t *testing.T) {
	src := sampleTree(t)
	m := miniotest.Start(t)
	data := t.TempDir()
	d := testdaemon.Start(t, testdaemon.Options{DataDir: data,
		Config: m.Config("site1/") + fmt.Sprintf("sources:\n  tree: {kind: files, path: %q}\n", src)})
	b := succeeded(t, d, "tree")
	d.Stop()
	os.RemoveAll(data)
	env := []string{"AWS_ACCESS_KEY_ID=" + m.AccessKey, "AWS_SECRET_ACCESS_KEY=" + m.SecretKey,
		"AWS_ENDPOINT_URL=http://" + m.Endpoint, "AWS_REGION=us-east-1"}
	for _, loc := range []string{"s3://" + m.Bucket + "/site1/", "s3://" + m.Bucket + "/site1/repo"} {
		to := filepath.Join(t.TempDir(), "restored")
		backupctlEnv(t, env, 0, "restore", fmt.Sprint(b.ID), "--to", to, "--repo", loc)
		sameTree(t, src, to)
	}
	backupctlEnv(t, env, 0, "check", "--repo", "s3://"+m.Bucket+"/site1/", "--read-data")
	if _, errOut := backupctlEnv(t, env, 2, "ls", "--repo", "s3://"+m.Bucket+"/other/"); !strings.Contains(errOut, "holds no repository") {
		t.Errorf("ls of a prefix without a repository: %s", errOut)
	}
	if _, errOut := backupctlEnv(t, []string{"AWS_ACCESS_KEY_ID=", "AWS_SECRET_ACCESS_KEY="}, 2, "ls", "--repo", "s3://"+m.Bucket+"/site1/"); !strings.Contains(errOut, "AWS_ACCESS_KEY_ID") {
		t.Errorf("ls without keys: %s", errOut)
	}
}
