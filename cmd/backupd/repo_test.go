package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/backupd/backupd/internal/domain"
	"github.com/backupd/backupd/internal/repo"
	"github.com/backupd/backupd/internal/testdaemon"
	"github.com/backupd/backupd/internal/testenv"
)

// run backs source up and waits for it to succeed.
func run(t *testing.T, d *testdaemon.Daemon, source string) domain.Backup {
	t.Helper()
	b, err := d.Client().CreateBackup(context.Background(), source)
	if err != nil {
		t.Fatal(err)
	}
	if b = d.WaitBackup(b.ID); b.Status != domain.StatusSucceeded {
		t.Fatalf("backup %d of %s: %s %q", b.ID, source, b.Status, b.Error)
	}
	return b
}

// fill writes n files of size bytes below dir, random (incompressible)
// unless a seed repeats.
func fill(t *testing.T, dir string, n, size int, seed uint64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	for i := range n {
		b := make([]byte, size)
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		p := filepath.Join(dir, fmt.Sprintf("d%d", i%3), fmt.Sprintf("f%03d", i))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func sizeOf(t *testing.T, dir string) int64 {
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

func contents(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			rel, _ := filepath.Rel(dir, p)
			b, _ := os.ReadFile(p)
			out[rel] = string(b)
		}
		return nil
	})
	return out
}

// restoreFromStore restores backup b with the library alone, reading the
// store (as backupctl restore --repo will), and compares it with want.
func restoreFromStore(t *testing.T, be repo.Backend, ids []age.Identity, b domain.Backup, want map[string]string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testenv.WaitTimeout)
	defer cancel()
	r, err := repo.Open(ctx, be, repo.Options{Identities: ids})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	id, err := repo.ParseID(b.Snapshot)
	if err != nil {
		t.Fatal(err)
	}
	s, err := r.Snapshot(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	if err := r.Restore(ctx, s, out, repo.RestoreOptions{}); err != nil {
		t.Fatalf("restore backup %d from the store: %v", b.ID, err)
	}
	got := contents(t, out)
	if len(got) != len(want) {
		t.Fatalf("backup %d restored %d files, want %d", b.ID, len(got), len(want))
	}
	for p, w := range want {
		if got[p] != w {
			t.Fatalf("backup %d: %s differs after restore", b.ID, p)
		}
	}
}

// unpack runs `zstd -dc FILE | tar -x` into a new dir.
func unpack(t *testing.T, file string) string {
	t.Helper()
	zstd, tar := testenv.Command(t, "zstd"), testenv.Command(t, "tar")
	out := t.TempDir()
	cmd := exec.Command("sh", "-c", fmt.Sprintf("%s -dc %q | %s -x -C %q", zstd, file, tar, out))
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("zstd -dc | tar -x: %v %s", err, b)
	}
	os.Remove(filepath.Join(out, "MANIFEST.json"))
	return out
}

func apiJSON(t *testing.T, d *testdaemon.Daemon, method, path string, out any) int {
	t.Helper()
	req, _ := http.NewRequest(method, d.URL+path, nil)
	if d.Token != "" {
		req.Header.Set("Authorization", "Bearer "+d.Token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
		}
	}
	return resp.StatusCode
}

func localStore(t *testing.T, d *testdaemon.Daemon) repo.Backend {
	t.Helper()
	be, err := repo.NewLocal(filepath.Join(d.DataDir, "archives", "repo"))
	if err != nil {
		t.Fatal(err)
	}
	return be
}

// A files source backed up three times with changes in between: after the
// first, each backup grows the archive directory by a small fraction of
// the tree; each snapshot restores byte for byte from the store alone;
// the API says what each added; downloads unpack with zstd and tar and
// resume; the tree lists; a drill passes.
func TestRepositoryBackupsOnDaemon(t *testing.T) {
	src := t.TempDir()
	fill(t, src, 30, 200<<10, 1)
	d := testdaemon.Start(t, testdaemon.Options{Config: fmt.Sprintf("sources:\n  docs:\n    kind: files\n    path: %s\n", src)})
	archives := filepath.Join(d.DataDir, "archives")
	var backups []domain.Backup
	var wants []map[string]string
	var sizes []int64
	for i := range 3 {
		if i > 0 {
			fill(t, filepath.Join(src, fmt.Sprintf("new%d", i)), 1, 100<<10, uint64(100+i))
			os.WriteFile(filepath.Join(src, "d0", "f000"), []byte(fmt.Sprintf("edited %d", i)), 0o644)
		}
		wants = append(wants, contents(t, src))
		b := run(t, d, "docs")
		backups, sizes = append(backups, b), append(sizes, sizeOf(t, archives))
		if b.Snapshot == "" || b.LogicalBytes != sizeOf(t, src) || b.SizeBytes != b.LogicalBytes || b.AddedBytes <= 0 {
			t.Fatalf("backup %d: snapshot %q, logical %d (tree %d), size %d, added %d", i+1, b.Snapshot, b.LogicalBytes, sizeOf(t, src), b.SizeBytes, b.AddedBytes)
		}
	}
	tree := sizeOf(t, src)
	for i := 1; i < 3; i++ {
		if grew := sizes[i] - sizes[i-1]; grew > tree/10 {
			t.Errorf("backup %d grew the archive directory by %d bytes for a tree of %d", i+1, grew, tree)
		}
		if backups[i].AddedBytes > tree/10 {
			t.Errorf("backup %d: added_bytes %d for a tree of %d", i+1, backups[i].AddedBytes, tree)
		}
	}
	for i, b := range backups {
		restoreFromStore(t, localStore(t, d), nil, b, wants[i])
	}

	// The list carries the new fields.
	var list struct{ Backups []map[string]any }
	apiJSON(t, d, "GET", "/api/v1/backups?source=docs", &list)
	if l := list.Backups[0]; l["snapshot"] != backups[2].Snapshot || l["added_bytes"].(float64) != float64(backups[2].AddedBytes) ||
		l["logical_bytes"].(float64) != float64(backups[2].LogicalBytes) {
		t.Fatalf("list entry: %v", l)
	}

	// Download with backupctl, as before: the export unpacks with the
	// standard tools to the tree of that backup.
	ctx := context.Background()
	dl := t.TempDir()
	if out, errOut, code := d.Backupctl(ctx, "download", fmt.Sprint(backups[1].ID), "-o", dl+"/"); code != 0 {
		t.Fatalf("backupctl download: exit %d %s %s", code, out, errOut)
	}
	cur, _ := d.Client().Backup(ctx, backups[1].ID)
	file := filepath.Join(dl, cur.Archive)
	if cur.SHA256 == "" || cur.ExportBytes == 0 || sizeOf(t, dl) != cur.ExportBytes {
		t.Fatalf("after download: sha256 %q, export_bytes %d, file %d bytes", cur.SHA256, cur.ExportBytes, sizeOf(t, dl))
	}
	if got := contents(t, unpack(t, file)); len(got) != len(wants[1]) || got["d0/f000"] != wants[1]["d0/f000"] {
		t.Fatalf("the export unpacks to %d files (want %d)", len(got), len(wants[1]))
	}
	// A cut-off download resumes against the same digest.
	data, _ := os.ReadFile(file)
	os.Remove(file)
	os.WriteFile(file+".partial", data[:len(data)/2], 0o600)
	if out, errOut, code := d.Backupctl(ctx, "download", fmt.Sprint(backups[1].ID), "-o", dl+"/"); code != 0 || !strings.Contains(out+errOut, "resumed") {
		t.Fatalf("resumed download: exit %d %s %s", code, out, errOut)
	}
	if got, _ := os.ReadFile(file); !bytes.Equal(got, data) {
		t.Fatal("the resumed download differs")
	}
	// run --download, unchanged.
	if out, errOut, code := d.Backupctl(ctx, "run", "docs", "--download", t.TempDir()+"/"); code != 0 {
		t.Fatalf("run --download: exit %d %s %s", code, out, errOut)
	}

	var tr struct{ Entries []domain.TreeEntry }
	if code := apiJSON(t, d, "GET", fmt.Sprintf("/api/v1/backups/%d/tree?path=d0", backups[2].ID), &tr); code != 200 ||
		len(tr.Entries) != 10 || tr.Entries[0].Name != "f000" || tr.Entries[0].Size != int64(len("edited 2")) || tr.Entries[0].Type != "file" {
		t.Fatalf("tree: %d %+v", code, tr.Entries)
	}
	v, err := d.Client().Verify(ctx, backups[0].ID)
	if err != nil || v.VerifyStatus != "passed" {
		t.Fatalf("drill: %+v %v", v, err)
	}
	var check domain.CheckResult
	if code := apiJSON(t, d, "POST", "/api/v1/repository/check?read_data=true", &check); code != 200 || !check.OK {
		t.Fatalf("check: %d %+v", code, check)
	}
}

// An encrypted repository on a daemon without the identity deduplicates,
// and says what it cannot do: download, list the tree, drill.
func TestEncryptedRepositoryWithoutIdentity(t *testing.T) {
	id, _ := age.GenerateX25519Identity()
	src := t.TempDir()
	fill(t, src, 10, 200<<10, 2)
	d := testdaemon.Start(t, testdaemon.Options{Config: fmt.Sprintf("encryption:\n  recipients: [%s]\nsources:\n  docs:\n    kind: files\n    path: %s\n", id.Recipient(), src)})
	want := contents(t, src)
	first := run(t, d, "docs")
	os.WriteFile(filepath.Join(src, "small"), []byte("one more"), 0o644)
	second := run(t, d, "docs")
	if second.AddedBytes*10 > first.AddedBytes || !strings.HasSuffix(second.Archive, ".tar.zst.age") {
		t.Fatalf("added %d then %d bytes; archive %q", first.AddedBytes, second.AddedBytes, second.Archive)
	}
	// Nothing in the store reads without the key.
	filepath.WalkDir(filepath.Join(d.DataDir, "archives", "repo"), func(p string, de fs.DirEntry, err error) error {
		if err == nil && de.Type().IsRegular() {
			if b, _ := os.ReadFile(p); bytes.Contains(b, []byte(want["d0/f000"][:64])) {
				t.Errorf("%s holds plain content", p)
			}
		}
		return nil
	})
	var prob map[string]any
	if code := apiJSON(t, d, "GET", fmt.Sprintf("/api/v1/backups/%d/archive", first.ID), &prob); code != 409 ||
		!strings.Contains(prob["detail"].(string), "backupctl restore ID --identity FILE") {
		t.Fatalf("download without identity: %d %v", code, prob)
	}
	if code := apiJSON(t, d, "GET", fmt.Sprintf("/api/v1/backups/%d/tree", first.ID), &prob); code != 409 {
		t.Fatalf("tree without identity: %d %v", code, prob)
	}
	if code := apiJSON(t, d, "POST", "/api/v1/repository/check?read_data=true", &prob); code != 409 {
		t.Fatalf("data check without identity: %d %v", code, prob)
	}
	var check domain.CheckResult
	if code := apiJSON(t, d, "POST", "/api/v1/repository/check", &check); code != 200 || !check.OK || check.Limited == "" {
		t.Fatalf("structure check without identity: %d %+v", code, check)
	}
	// With the key, the store alone restores it.
	restoreFromStore(t, localStore(t, d), []age.Identity{id}, first, want)
}

// Prune after retention reclaims space while a backup runs, and every
// snapshot left restores; prune on demand reclaims the rest once nothing
// runs. (Prune deletes what it marked only once every backup running
// began after the mark: slowA holds the first mark off, slowB, started
// after it, does not.)
func TestPruneWhileBackupRuns(t *testing.T) {
	src := t.TempDir()
	d := testdaemon.Start(t, testdaemon.Options{Config: fmt.Sprintf(`repository:
  prune_margin: 0s
workers: 3
sources:
  docs:
    kind: files
    path: %s
    keep: 1
  slowA:
    kind: command
    command: ["sh", "-c", "echo a; sleep 2"]
  slowB:
    kind: command
    command: ["sh", "-c", "echo b; sleep 30"]
`, src)})
	ctx := context.Background()
	round := func(i int) (domain.Backup, map[string]string) {
		os.RemoveAll(src)
		fill(t, src, 8, 256<<10, uint64(10+i)) // nothing shared between rounds
		return run(t, d, "docs"), contents(t, src)
	}
	first, _ := round(0)
	slowA, err := d.Client().CreateBackup(ctx, "slowA")
	if err != nil {
		t.Fatal(err)
	}
	waitRunning(t, d, slowA.ID)
	second, _ := round(1) // forgets the first; prune marks its packs, slowA keeps them
	size := repoBytes(t, d)
	if size < first.AddedBytes+second.AddedBytes {
		t.Fatal("the first backup's packs went while a backup that began before their mark ran")
	}
	slowB, err := d.Client().CreateBackup(ctx, "slowB")
	if err != nil {
		t.Fatal(err)
	}
	waitRunning(t, d, slowB.ID)
	d.WaitBackup(slowA.ID) // its success runs a prune: the first's packs go, slowB running
	deadline := time.Now().Add(testenv.WaitTimeout)
	for repoBytes(t, d) > size-first.AddedBytes/2 {
		if time.Now().After(deadline) {
			t.Fatalf("repository still %d bytes (was %d): the first backup's %d were not reclaimed while slowB ran", repoBytes(t, d), size, first.AddedBytes)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if cur, _ := d.Client().Backup(ctx, slowB.ID); cur.Status != domain.StatusRunning {
		t.Fatalf("slowB is %s, the test wanted it running", cur.Status)
	}
	last, want := round(2) // forgets the second; its packs wait for slowB
	restoreFromStore(t, localStore(t, d), nil, last, want)
	if _, err := d.Client().Cancel(ctx, slowB.ID); err != nil {
		t.Fatal(err)
	}
	d.WaitBackup(slowB.ID)
	var res domain.PruneResult
	if code := apiJSON(t, d, "POST", "/api/v1/repository/prune", &res); code != 200 || res.Deleted == 0 || res.BytesFreed == 0 {
		t.Fatalf("prune on demand: %d %+v", code, res)
	}
	restoreFromStore(t, localStore(t, d), nil, last, want)
	evs, _ := d.Client().Events(ctx, 0, 1000)
	n := 0
	for _, ev := range evs {
		if ev.Type == domain.EventRepoPruned {
			n++
		}
	}
	if n < 3 {
		t.Fatalf("%d repo.pruned events, want one per prune that did something", n)
	}
}

func waitRunning(t *testing.T, d *testdaemon.Daemon, id int64) {
	t.Helper()
	deadline := time.Now().Add(testenv.WaitTimeout)
	for {
		b, err := d.Client().Backup(context.Background(), id)
		if err == nil && b.Status == domain.StatusRunning {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("backup %d never ran", id)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func repoBytes(t *testing.T, d *testdaemon.Daemon) int64 {
	t.Helper()
	return sizeOf(t, filepath.Join(d.DataDir, "archives", "repo", "packs"))
}

// Prune on demand races running backups, over and over for a bounded
// time, through the API: no backup fails for it, and every backup left
// passes its drill and the repository checks clean.
func TestPruneRacesBackupsOnDaemon(t *testing.T) {
	src := t.TempDir()
	d := testdaemon.Start(t, testdaemon.Options{Config: fmt.Sprintf(`repository:
  prune_margin: 0s
sources:
  docs:
    kind: files
    path: %s
    keep: 2
  dump:
    kind: command
    command: ["sh", "-c", "head -c 3000000 %s/d0/f000; head -c 2000000 /dev/urandom"]
    keep: 2
`, src, src)})
	fill(t, src, 6, 512<<10, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	prunes := make(chan int)
	go func() {
		n := 0
		defer func() { prunes <- n }()
		for ctx.Err() == nil {
			var res domain.PruneResult
			if code := apiJSON(t, d, "POST", "/api/v1/repository/prune", &res); code != 200 {
				t.Errorf("prune: %d", code)
				return
			}
			n++
		}
	}()
	var done []domain.Backup
	for i := 0; i < 8 && ctx.Err() == nil; i++ {
		fill(t, src, 3, 512<<10, uint64(i%3)) // half the files change, back and forth
		for _, s := range []string{"docs", "dump"} {
			b, err := d.Client().CreateBackup(context.Background(), s)
			if err != nil {
				t.Fatal(err)
			}
			done = append(done, b)
		}
		for _, b := range done[len(done)-2:] {
			if got := d.WaitBackup(b.ID); got.Status != domain.StatusSucceeded {
				t.Fatalf("backup %d of %s while prune ran: %s %q", b.ID, b.Source, got.Status, got.Error)
			}
		}
	}
	cancel()
	t.Logf("%d backups, %d prunes", len(done), <-prunes)
	for _, b := range done {
		cur, _ := d.Client().Backup(context.Background(), b.ID)
		if cur.Archive == "" {
			continue
		}
		if v, err := d.Client().Verify(context.Background(), b.ID); err != nil || v.VerifyStatus != "passed" {
			t.Fatalf("drill of backup %d after the race: %+v %v", b.ID, v, err)
		}
	}
	var check domain.CheckResult
	if code := apiJSON(t, d, "POST", "/api/v1/repository/check?read_data=true", &check); code != 200 || !check.OK {
		t.Fatalf("check after the race: %d %+v", code, check)
	}
}
