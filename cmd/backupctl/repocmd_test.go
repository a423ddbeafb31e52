package main_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/backupd/backupd/internal/testdaemon"
)

// Through the daemon: ls lists a backup's tree, restore --path restores
// a file and a directory of it from the export, list and status show
// the logical and added sizes, prune and check answer in the documented
// shapes.
func TestRepositoryCommandsThroughTheServer(t *testing.T) {
	src := sampleTree(t)
	d := testdaemon.Start(t, testdaemon.Options{Config: fmt.Sprintf("sources:\n  tree: {kind: files, path: %q}\n", src)})
	b := succeeded(t, d, "tree")
	second := succeeded(t, d, "tree")
	id := fmt.Sprint(b.ID)
	shapes := documentedShapes(t)

	out, _ := ctl(t, d, 0, "ls", id)
	for _, want := range []string{"NAME", "a.txt", "etc/", "data/"} {
		if !strings.Contains(out, want) {
			t.Errorf("ls: no %q in\n%s", want, out)
		}
	}
	tree := decode(t, "ls ID etc", must(ctl(t, d, 0, "ls", id, "etc", "-o", "json"))).(map[string]any)
	sameKeys(t, shapes, "tree", tree)
	var names []string
	for _, e := range tree["entries"].([]any) {
		sameKeys(t, shapes, "tree_entry", e)
		names = append(names, e.(map[string]any)["name"].(string))
	}
	if !slices.Equal(names, []string{"app.conf", "empty", "link"}) || tree["snapshot"] != b.Snapshot {
		t.Errorf("ls etc: %v in snapshot %v", names, tree["snapshot"])
	}
	if _, errOut := ctl(t, d, 1, "ls", id, "nope"); !strings.Contains(errOut, "no directory nope") {
		t.Errorf("ls of a missing directory: %s", errOut)
	}

	to := t.TempDir()
	ctl(t, d, 0, "restore", id, "--to", to, "--path", "etc/app.conf", "--path", "data/deep/")
	got := snapshotOf(t, to)
	want := snapshotOf(t, src)
	for _, p := range []string{"etc/app.conf", "data/deep/er/x"} {
		if got[p] != want[p] {
			t.Errorf("%s: restored %q, want %q", p, got[p], want[p])
		}
	}
	for _, p := range []string{"a.txt", "etc/link", "data/big.bin"} {
		if _, ok := got[p]; ok {
			t.Errorf("--path restored %s too", p)
		}
	}
	if _, errOut := ctl(t, d, 1, "restore", id, "--to", t.TempDir(), "--path", "etc/nope"); !strings.Contains(errOut, "has no etc/nope") {
		t.Errorf("--path etc/nope: %s", errOut)
	}
	if _, errOut := ctl(t, d, 2, "restore", id, "--to-dsn", "postgres://u@127.0.0.1:1/x", "--path", "a"); !strings.Contains(errOut, "--path goes with --to") {
		t.Errorf("--path with --to-dsn: %s", errOut)
	}

	out, _ = ctl(t, d, 0, "list")
	if head := strings.Fields(strings.Split(out, "\n")[0]); !slices.Contains(head, "ADDED") || slices.Index(head, "ADDED") != slices.Index(head, "SIZE")+1 {
		t.Errorf("list header: %v", head)
	}
	page := decode(t, "list", must(ctl(t, d, 0, "list", "-o", "json"))).(map[string]any)
	for _, item := range page["backups"].([]any) {
		bj := item.(map[string]any)
		if bj["id"] == float64(second.ID) && (bj["added_bytes"].(float64) >= bj["logical_bytes"].(float64)/10 || bj["snapshot"] != second.Snapshot) {
			t.Errorf("the second backup of an unchanged tree: %v", bj)
		}
	}
	out, _ = ctl(t, d, 0, "status", fmt.Sprint(second.ID))
	if !strings.Contains(out, "Added:") || !strings.Contains(out, "Snapshot:  "+second.Snapshot) {
		t.Errorf("status:\n%s", out)
	}

	sameKeys(t, shapes, "prune", decode(t, "prune", must(ctl(t, d, 0, "prune", "-o", "json"))))
	if out, _ := ctl(t, d, 0, "prune"); !strings.Contains(out, "reclaimed") {
		t.Errorf("prune: %s", out)
	}
	check := decode(t, "check", must(ctl(t, d, 0, "check", "--read-data", "-o", "json")))
	sameKeys(t, shapes, "check", check)
	if c := check.(map[string]any); c["ok"] != true || c["read_data"] != true {
		t.Errorf("check: %v", c)
	}

	// A damaged pack: check exits 1 and says what it found.
	var pack string
	filepath.Walk(filepath.Join(d.DataDir, "archives", "repo", "packs"), func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() && fi.Size() > 4<<20 {
			pack = p
		}
		return nil
	})
	flip(t, pack, 1<<20)
	out, _ = ctl(t, d, 1, "check", "--read-data")
	if !strings.Contains(out, "problems") {
		t.Errorf("check of a damaged pack: %s", out)
	}
}

// A daemon with the recipients of an encrypted repository but not the
// identity cannot list or export: ls says to read the store with
// --repo and --identity, and that works.
func TestEncryptedRepositoryWithoutIdentityOnTheServer(t *testing.T) {
	src := sampleTree(t)
	key, keyFile := ageKey(t)
	d := testdaemon.Start(t, testdaemon.Options{Config: fmt.Sprintf("encryption:\n  recipients: [%s]\nsources:\n  tree: {kind: files, path: %q}\n", key.Recipient(), src)})
	b := succeeded(t, d, "tree")
	id := fmt.Sprint(b.ID)
	if _, errOut := ctl(t, d, 1, "ls", id); !strings.Contains(errOut, "--repo LOCATION") {
		t.Errorf("ls on a daemon without the identity: %s", errOut)
	}
	if _, errOut := ctl(t, d, 1, "restore", id, "--to", t.TempDir(), "--identity", keyFile); !strings.Contains(errOut, "--repo LOCATION") {
		t.Errorf("restore through a daemon without the identity: %s", errOut)
	}
	check := decode(t, "check", must(ctl(t, d, 0, "check", "-o", "json"))).(map[string]any)
	if check["ok"] != true || check["limited"] == "" {
		t.Errorf("check without the identity: %v", check)
	}
	repoDir := filepath.Join(d.DataDir, "archives")
	to := filepath.Join(t.TempDir(), "restored")
	ctl(t, d, 0, "restore", id, "--to", to, "--repo", repoDir, "--identity", keyFile)
	sameTree(t, src, to)
}
