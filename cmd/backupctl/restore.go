package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"filippo.io/age"
	"github.com/spf13/cobra"

	"github.com/backupd/backupd/internal/archive"
	"github.com/backupd/backupd/internal/client"
	"github.com/backupd/backupd/internal/domain"
	"github.com/backupd/backupd/internal/restore"
	"github.com/backupd/backupd/internal/source"
)

type restoreFlags struct {
	to, toDSN, database, archive, identity string
	force                                  bool
}

func (a *app) newRestoreCmd() *cobra.Command {
	var f restoreFlags
	cmd := &cobra.Command{
		Use:   "restore ID (--to DIR | --to-dsn DSN)",
		Short: "Download a backup's archive and restore it into a directory or a database",
		Long: `Download a backup's archive, verify it, and restore it:

  --to DIR       unpack it into DIR: a files backup as its tree, a sqlite
                 backup as the database file, a command backup as "stdout",
                 a database backup as its dump files (<db>.pgdump, <db>.sql).
                 Every file is checked against the manifest's SHA-256.
  --to-dsn DSN   load a database backup into an existing database with the
                 local pg_restore or mariadb client:
                   postgres://user:password@host:5432/dbname
                   mysql://user:password@host:3306/dbname
                 The target must be empty unless --force is given (then the
                 dump's objects replace the ones of the same name).
                 A backup of several databases needs --database NAME.

The download goes to a temporary directory (under $TMPDIR) that is
removed afterwards, whether the restore succeeds, fails or is stopped
with Ctrl-C. --archive PATH (a file, or a directory to put it in) keeps
the archive there instead, and a later restore with the same --archive
reuses it once it verifies.

An archive encrypted with age (named .tar.zst.age) needs --identity FILE,
an age identity file holding the private key of one of its recipients.`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			id, err := parseID(argv[0])
			if err != nil {
				return err
			}
			if (f.to == "") == (f.toDSN == "") {
				return usageErrorf("give exactly one of --to DIR or --to-dsn DSN (see backupctl restore --help)")
			}
			var srv source.Server
			var db string
			if f.toDSN != "" {
				if srv, db, err = source.ParseDSN(f.toDSN); err != nil {
					return usageErrorf("--to-dsn: %v", err)
				}
			}
			var ids []age.Identity
			if f.identity != "" {
				if ids, err = archive.ReadIdentities(f.identity); err != nil {
					return usageErrorf("--identity: %v", err)
				}
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			// Refused before the download: the name says it is encrypted.
			if b, err := c.Backup(cmd.Context(), id); err == nil && strings.HasSuffix(b.Archive, archive.EncryptedSuffix) && len(ids) == 0 {
				return usageErrorf("backup %d is encrypted with age (%s): pass --identity FILE with the private key of one of its recipients", id, b.Archive)
			}
			dest := f.archive
			if dest == "" {
				tmp, err := os.MkdirTemp("", "backupctl-restore-")
				if err != nil {
					return fmt.Errorf("create a temporary directory for the download: %w", err)
				}
				defer os.RemoveAll(tmp)
				dest = tmp + string(filepath.Separator)
			}
			path, err := a.fetchArchive(cmd.Context(), c, id, dest, f.archive == "")
			if err != nil {
				return err
			}
			if f.to != "" {
				return a.restoreDir(cmd.Context(), path, f.to, ids)
			}
			return a.restoreDB(cmd.Context(), path, srv, db, f, ids)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.to, "to", "", "directory to unpack the archive into")
	fl.StringVar(&f.toDSN, "to-dsn", "", "database to load a database backup into (postgres://... or mysql://...)")
	fl.StringVar(&f.database, "database", "", "which database of the backup to load with --to-dsn")
	fl.StringVar(&f.archive, "archive", "", "keep the downloaded archive here (file or directory) and reuse it from here; default: a temporary directory, removed afterwards")
	fl.BoolVar(&f.force, "force", false, "load into a database that is not empty")
	fl.StringVar(&f.identity, "identity", "", "age identity file, for an encrypted archive")
	cmd.ValidArgsFunction = a.idArg(domain.StatusSucceeded)
	cmd.MarkFlagDirname("to")
	return cmd
}

// fetchArchive downloads the archive, or finds it already there and
// verified, and returns its path; temp says dest is removed afterwards.
func (a *app) fetchArchive(ctx context.Context, c *client.Client, id int64, dest string, temp bool) (string, error) {
	res, err := c.Download(ctx, id, dest, client.DownloadOptions{})
	if err != nil {
		return "", err
	}
	switch {
	case res.Reused:
		fmt.Fprintf(a.stderr, "using %s, already here and verified\n", res.Path)
	case temp:
		fmt.Fprintf(a.stderr, "downloaded the archive (%s), sha256 verified; it is removed after the restore (--archive PATH keeps it)\n", humanBytes(res.Size))
	default:
		fmt.Fprintf(a.stderr, "downloaded %s (%s), sha256 verified\n", res.Path, humanBytes(res.Size))
	}
	return res.Path, nil
}

func extract(ctx context.Context, path, dir string, ids []age.Identity) (archive.Manifest, error) {
	f, err := os.Open(path)
	if err != nil {
		return archive.Manifest{}, fmt.Errorf("open archive: %w", err)
	}
	defer f.Close()
	plain, err := archive.Decrypt(f, ids)
	if err != nil {
		return archive.Manifest{}, fmt.Errorf("%s: %w", path, err)
	}
	m, err := archive.Extract(ctx, plain, dir)
	if err != nil {
		return m, fmt.Errorf("unpack %s: %w", path, err)
	}
	return m, nil
}

func (a *app) restoreDir(ctx context.Context, path, dir string, ids []age.Identity) error {
	m, err := extract(ctx, path, dir, ids)
	if err != nil {
		return err
	}
	a.printf("restored backup %d of %s (%s, %d entries, %s) into %s\n", m.BackupID, m.Source, m.Kind, len(m.Entries), humanBytes(m.Bytes), dir)
	return nil
}

func (a *app) restoreDB(ctx context.Context, path string, srv source.Server, db string, f restoreFlags, ids []age.Identity) error {
	tmp, err := os.MkdirTemp("", "backupctl-restore-")
	if err != nil {
		return fmt.Errorf("create temp dir: %w", err)
	}
	defer os.RemoveAll(tmp)
	m, err := extract(ctx, path, filepath.Join(tmp, "x"), ids)
	if err != nil {
		return err
	}
	if m.Kind != srv.Kind {
		return usageErrorf("backup %d is a %s backup; --to-dsn names a %s database", m.BackupID, m.Kind, srv.Kind)
	}
	infos, err := source.DatabasesFromInfo(m.Info)
	if err != nil {
		return err
	}
	name, err := pickDatabase(infos, f.database)
	if err != nil {
		return err
	}
	if !f.force {
		n, err := restore.Objects(ctx, srv, db)
		if err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("database %s on %s is not empty (%d tables, views or routines): restore into an empty database, or pass --force to replace what the dump holds", db, srv.Addr(), n)
		}
	}
	dump := filepath.Join(tmp, "x", filepath.FromSlash(infos[name].Stream))
	if err := restore.Database(ctx, srv, db, dump, tmp, f.force); err != nil {
		return err
	}
	a.printf("restored database %s of backup %d into %s on %s (%d tables)\n", name, m.BackupID, db, srv.Addr(), len(infos[name].Tables))
	return nil
}

func pickDatabase(infos map[string]source.DatabaseInfo, want string) (string, error) {
	names := make([]string, 0, len(infos))
	for n := range infos {
		names = append(names, n)
	}
	slices.Sort(names)
	switch {
	case want != "":
		if _, ok := infos[want]; !ok {
			return "", usageErrorf("--database %s: the backup holds %s", want, strings.Join(names, ", "))
		}
		return want, nil
	case len(names) == 1:
		return names[0], nil
	}
	return "", usageErrorf("the backup holds several databases (%s): choose one with --database", strings.Join(names, ", "))
}
