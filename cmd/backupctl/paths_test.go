package main_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/backupd/backupd/internal/testdaemon"
)

// ctlIn runs backupctl in dir with TMPDIR set to tmp, and fails t unless
// it exits with want.
func ctlIn(t *testing.T, d *testdaemon.Daemon, dir, tmp string, want int, args ...string) string {
	t.Helper()
	_, bin := testdaemon.Binaries(t)
	cmd := exec.CommandContext(context.Background(), bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "BACKUPD_URL="+d.URL, "TMPDIR="+tmp)
	out, err := cmd.CombinedOutput()
	if code := exitCode(t, err); code != want {
		t.Fatalf("backupctl %s: exit %d, want %d\n%s", strings.Join(args, " "), code, want, out)
	}
	return string(out)
}

func entries(t *testing.T, dir string) []string {
	t.Helper()
	list, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range list {
		names = append(names, e.Name())
	}
	return names
}

// restore leaves no copy of the archive behind, in the working directory
// or under $TMPDIR, whether it succeeds or fails, unless --archive says
// where to keep it.
func TestRestoreKeepsNoArchiveUnlessAsked(t *testing.T) {
	d := testdaemon.Start(t, testdaemon.Options{Config: `
sources:
  out: {kind: command, command: ["printf", "hello\n"]}
`})
	b := runBackup(t, d, "out")
	id := fmt.Sprint(b.ID)
	cwd, tmp := t.TempDir(), t.TempDir()
	to := filepath.Join(t.TempDir(), "restored")

	out := ctlIn(t, d, cwd, tmp, 0, "restore", id, "--to", to)
	if got, _ := os.ReadFile(filepath.Join(to, "stdout")); string(got) != "hello\n" {
		t.Errorf("restored stdout = %q\n%s", got, out)
	}
	if !strings.Contains(out, "removed after the restore") {
		t.Errorf("restore does not say the download is temporary:\n%s", out)
	}
	// A failure after the download (a command backup is no database).
	ctlIn(t, d, cwd, tmp, 2, "restore", id, "--to-dsn", "postgres://u@127.0.0.1:1/db")
	if left := append(entries(t, cwd), entries(t, tmp)...); len(left) != 0 {
		t.Errorf("restore left %v behind", left)
	}

	keep := filepath.Join(t.TempDir(), "kept")
	ctlIn(t, d, cwd, tmp, 0, "restore", id, "--to", to+"2", "--archive", keep+"/")
	if got := entries(t, keep); len(got) != 1 || got[0] != b.Archive {
		t.Errorf("--archive %s/ holds %v, want %s", keep, got, b.Archive)
	}
	if out := ctlIn(t, d, cwd, tmp, 0, "restore", id, "--to", to+"3", "--archive", keep); !strings.Contains(out, "already here and verified") {
		t.Errorf("a second restore with --archive did not reuse it:\n%s", out)
	}
}

// A destination that names an existing directory, without a trailing
// slash, gets the archive under its own name inside it.
func TestDownloadIntoExistingDirWithoutSlash(t *testing.T) {
	d := testdaemon.Start(t, testdaemon.Options{Config: `
sources:
  out: {kind: command, command: ["printf", "hello\n"]}
`})
	cwd, tmp := t.TempDir(), t.TempDir()
	dir := t.TempDir()
	ctlIn(t, d, cwd, tmp, 0, "run", "out", "--download", dir)
	b := d.WaitBackup(1)
	if got := entries(t, dir); len(got) != 1 || got[0] != b.Archive {
		t.Fatalf("run --download %s: the directory holds %v, want %s", dir, got, b.Archive)
	}
	other := t.TempDir()
	ctlIn(t, d, filepath.Dir(other), tmp, 0, "download", "1", "-o", filepath.Base(other))
	if got := entries(t, other); len(got) != 1 || got[0] != b.Archive {
		t.Fatalf("download -o %s: the directory holds %v, want %s", filepath.Base(other), got, b.Archive)
	}
	// A name that is not there is the file to write.
	file := filepath.Join(t.TempDir(), "mine.tar.zst")
	ctlIn(t, d, cwd, tmp, 0, "download", "1", "-o", file)
	if st, err := os.Stat(file); err != nil || !st.Mode().IsRegular() {
		t.Fatalf("download -o %s: %v %v", file, st, err)
	}
}
