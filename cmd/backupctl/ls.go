package main

import (
	"context"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/backupd/backupd/internal/domain"
	"github.com/backupd/backupd/internal/repo"
)

func (a *app) newLsCmd() *cobra.Command {
	var f storeFlags
	cmd := &cobra.Command{
		Use:   "ls ID [PATH] | ls --repo LOCATION [ID [PATH]]",
		Short: "List a directory of a backup's snapshot, or the snapshots in a repository",
		Long: `List what a backup in the repository holds: the entries directly inside
PATH (the root by default), with type, size, mode and modification time.
A backup made before the repository (a tar.zst archive) has no tree to
list: download it.

With --repo LOCATION (see backupctl restore --help) the repository is read
directly, with no server; an encrypted one needs --identity FILE. There,
ID may also be the start of a snapshot id, and without ID ls lists every
snapshot in the repository, oldest first: how to find what to restore
when the catalog is lost.`,
		Args: args(cobra.RangeArgs(0, 2)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			if f.repo != "" {
				return a.lsStore(cmd.Context(), f, argv)
			}
			if len(argv) == 0 {
				return usageErrorf("ls needs a backup ID (or --repo LOCATION to list the snapshots in a repository)")
			}
			id, c, err := a.idClient(argv[0])
			if err != nil {
				return err
			}
			dir := ""
			if len(argv) > 1 {
				dir = cleanTreePath(argv[1])
			}
			b, err := c.Backup(cmd.Context(), id)
			if err != nil {
				return err
			}
			entries, err := c.Tree(cmd.Context(), id, dir)
			if err != nil {
				return err
			}
			return a.printTree(treeJSON{BackupID: id, Snapshot: b.Snapshot, Path: dir, Entries: toTreeEntriesJSON(entries)})
		},
	}
	f.add(cmd.Flags(), "list")
	cmd.ValidArgsFunction = a.idArg(domain.StatusSucceeded)
	cmd.MarkFlagFilename("identity")
	return cmd
}

func cleanTreePath(p string) string { return strings.Trim(path.Clean("/"+p), "/") }

// lsStore lists from the repository alone: its snapshots, or one
// snapshot's directory.
func (a *app) lsStore(ctx context.Context, f storeFlags, argv []string) error {
	r, err := f.open(ctx)
	if err != nil {
		return err
	}
	defer r.Close()
	if len(argv) == 0 {
		all, err := r.Snapshots(ctx)
		if err != nil {
			return err
		}
		return a.printSnapshots(all)
	}
	s, err := findSnapshot(ctx, r, argv[0])
	if err != nil {
		return err
	}
	dir := ""
	if len(argv) > 1 {
		dir = cleanTreePath(argv[1])
	}
	entries, err := treeOf(ctx, r, s, dir)
	if err != nil {
		return err
	}
	return a.printTree(treeJSON{BackupID: s.BackupID, Snapshot: s.ID.String(), Path: dir, Entries: entries})
}

// treeOf lists the entries directly inside dir, as the server's tree
// route does: dir must be a directory of the snapshot.
func treeOf(ctx context.Context, r *repo.Repo, s repo.Snapshot, dir string) ([]treeEntryJSON, error) {
	out := []treeEntryJSON{}
	found := dir == ""
	err := r.Walk(ctx, s, func(e repo.Entry) error {
		if e.Path == dir {
			found = true
			if e.Type != repo.TypeDir {
				return fmt.Errorf("%s in backup %d is a %s, not a directory", dir, s.BackupID, e.Type)
			}
		}
		if parent := path.Dir(e.Path); parent == dir || (parent == "." && dir == "") {
			out = append(out, treeEntryJSON{Name: path.Base(e.Path), Path: e.Path, Type: e.Type, Size: e.Size,
				Mode: e.Mode, MTime: time.Unix(0, e.MTime).UTC(), Link: e.Link})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("backup %d has no directory %s", s.BackupID, dir)
	}
	return out, nil
}

func (a *app) printTree(t treeJSON) error {
	if a.output == "json" {
		return a.printJSON(t)
	}
	tw := a.table()
	fmt.Fprintln(tw, "NAME\tTYPE\tSIZE\tMODE\tMTIME")
	for _, e := range t.Entries {
		name := e.Name
		switch e.Type {
		case repo.TypeDir:
			name += "/"
		case repo.TypeSymlink:
			name += " -> " + e.Link
		}
		size := humanBytes(e.Size)
		if e.Type != repo.TypeFile {
			size = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%04o\t%s\n", name, e.Type, size, e.Mode, e.MTime.Local().Format("2006-01-02 15:04:05"))
	}
	return tw.Flush()
}

func (a *app) printSnapshots(all []repo.Snapshot) error {
	if a.output == "json" {
		out := make([]snapshotJSON, 0, len(all))
		for _, s := range all {
			out = append(out, toSnapshotJSON(s))
		}
		return a.printJSON(out)
	}
	tw := a.table()
	fmt.Fprintln(tw, "SNAPSHOT\tBACKUP\tSOURCE\tKIND\tHOST\tSTARTED\tSIZE\tENTRIES")
	for _, s := range all {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%d\n", s.ID.String()[:12], s.BackupID, s.Source, s.Kind, s.Host,
			s.StartedAt.Local().Format("2006-01-02 15:04:05"), humanBytes(s.Size), s.Entries)
	}
	return tw.Flush()
}
