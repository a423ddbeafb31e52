package main_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/backupd/backupd/internal/client"
	"github.com/backupd/backupd/internal/domain"
	"github.com/backupd/backupd/internal/testdaemon"
)

// Every new backup goes into the repository under archives/repo; a
// download of one sends its export, built by the first download into
// data_dir/exports. These helpers look at both.

func repoDir(d *testdaemon.Daemon) string { return filepath.Join(d.DataDir, "archives", "repo") }

func exportPath(d *testdaemon.Daemon, b domain.Backup) string {
	return filepath.Join(d.DataDir, "exports", filepath.Base(b.Archive))
}

// objects lists the files below dir, relative to it and sorted, leaving
// out temporary ones (named with a leading dot); none if dir is missing.
func objects(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if de.Type().IsRegular() && !strings.HasPrefix(de.Name(), ".") {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// snapshots lists the snapshot ids stored in the daemon's repository.
func snapshots(t *testing.T, d *testdaemon.Daemon) []string {
	t.Helper()
	return objects(t, filepath.Join(repoDir(d), "snapshots"))
}

// packs lists the packs stored in the daemon's repository, as packs/xx/id.
func packs(t *testing.T, d *testdaemon.Daemon) []string {
	t.Helper()
	var out []string
	for _, p := range objects(t, filepath.Join(repoDir(d), "packs")) {
		out = append(out, "packs/"+p)
	}
	return out
}

// beside lists what the archive directory holds next to repo/: tar.zst
// archives and their partial files, which no new backup writes.
func beside(t *testing.T, d *testdaemon.Daemon) []string {
	t.Helper()
	var out []string
	list, _ := os.ReadDir(filepath.Join(d.DataDir, "archives"))
	for _, e := range list {
		if e.Name() != "repo" {
			out = append(out, e.Name())
		}
	}
	return out
}

// exports lists everything in data_dir/exports, builds in progress
// included.
func exports(t *testing.T, d *testdaemon.Daemon) []string {
	t.Helper()
	var out []string
	list, _ := os.ReadDir(filepath.Join(d.DataDir, "exports"))
	for _, e := range list {
		out = append(out, e.Name())
	}
	return out
}

// noSnapshot fails t unless backup b left nothing that could pass for a
// good backup: no snapshot on its record or in the repository, no
// archive name, no digest, no export and no file beside the repository.
func noSnapshot(t *testing.T, d *testdaemon.Daemon, b domain.Backup) {
	t.Helper()
	if b.Snapshot != "" || b.Archive != "" || b.SHA256 != "" || b.ExportBytes != 0 {
		t.Errorf("backup %d (%s) still names what it stored: %+v", b.ID, b.Status, b)
	}
	if s := snapshots(t, d); len(s) != 0 {
		t.Errorf("the repository holds snapshots %v after backup %d %s", s, b.ID, b.Status)
	}
	if e := exports(t, d); len(e) != 0 {
		t.Errorf("exports after backup %d %s: %v", b.ID, b.Status, e)
	}
	if f := beside(t, d); len(f) != 0 {
		t.Errorf("files beside the repository after backup %d %s: %v", b.ID, b.Status, f)
	}
}

// download fetches backup b with the client, which builds its export on
// the daemon, and returns the file and the backup as it then stands,
// with the export's digest and size recorded.
func download(t *testing.T, d *testdaemon.Daemon, b domain.Backup) (string, domain.Backup) {
	t.Helper()
	ctx := context.Background()
	res, err := d.Client().Download(ctx, b.ID, t.TempDir()+string(filepath.Separator), client.DownloadOptions{})
	if err != nil {
		t.Fatalf("download backup %d: %v", b.ID, err)
	}
	cur, err := d.Client().Backup(ctx, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	if cur.SHA256 == "" || cur.SHA256 != res.SHA256 || cur.ExportBytes != res.Size || cur.ExportBytes == 0 {
		t.Fatalf("after the first download of backup %d: catalog sha256 %q, export_bytes %d; the download got %q, %d bytes",
			b.ID, cur.SHA256, cur.ExportBytes, res.SHA256, res.Size)
	}
	return res.Path, cur
}

// backup returns backup id as the daemon has it now.
func backup(t *testing.T, d *testdaemon.Daemon, id int64) domain.Backup {
	t.Helper()
	b, err := d.Client().Backup(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
