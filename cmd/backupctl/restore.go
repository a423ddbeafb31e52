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
	"github.com/backupd/backupd/internal/source"
)

type restoreFlags struct {
	to, toDSN, database, archive string
	paths                        []string
	force                        bool
	store                        storeFlags
}

func (a *app) newRestoreCmd() *cobra.Command {
	var f restoreFlags
	cmd := &cobra.Command{
		Use:   "restore ID (--to DIR [--path P]... | --to-dsn DSN) [--repo LOCATION]",
		Short: "Restore a backup into a directory or a database, through the server or from the repository itself",
		Long: `Restore a backup, every byte checked:

  --to DIR       unpack it into DIR: a files backup as its tree, a sqlite
                 backup as the database file, a command backup as "stdout",
                 a database backup as its dump files (<db>.pgdump, <db>.sql).
                 Every file is checked against the manifest's checksum.
  --path P       (with --to, repeatable) only P and what is below it: a file,
                 a dump, or a directory of the backup ("etc/app.conf",
                 "home/ann"). The rest is still read and checked.
  --to-dsn DSN   load a database backup into an existing database with the
                 local pg_restore or mariadb client:
                   postgres://user:password@host:5432/dbname
                   mysql://user:password@host:3306/dbname
                 The dump is streamed into the client as it downloads, with
                 no file in between, and checked as it goes; the archive's
                 SHA-256 and manifest are checked at its end, after the
                 client has the data: if that check fails, drop the
                 database. The target must be empty unless --force is given
                 (then the dump's objects replace the ones of the same name).
                 A backup of several databases needs --database NAME.

Through the server, --to downloads to a temporary directory (under
$TMPDIR) that is removed afterwards, whether the restore succeeds, fails
or is stopped with Ctrl-C. --archive PATH (a file, or a directory to put
it in) keeps the archive there instead, and a later restore with the same
--archive reuses it once it verifies.

--repo LOCATION restores without a server or catalog, from the repository
itself (disaster recovery): LOCATION is the directory <archive_dir>/repo
(or the archive dir that holds repo/) or s3://bucket/prefix, prefix being
the daemon's storage.s3.prefix. S3 credentials come from
AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, the region from AWS_REGION
(or AWS_DEFAULT_REGION), and an endpoint other than AWS from
AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL (http://host:port for plain HTTP,
as a local MinIO). ID is the backup id the snapshot was made by, or the
start of the snapshot id (backupctl ls --repo LOCATION lists them). Every
chunk is decrypted, decompressed and checked against its keyed hash.

An encrypted archive (named .tar.zst.age) or repository needs --identity
FILE, an age identity file holding the private key of one of its
recipients.`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			if err := f.check(); err != nil {
				return err
			}
			if f.store.repo != "" {
				return a.restoreFromStore(cmd.Context(), argv[0], f)
			}
			return a.restoreViaServer(cmd.Context(), argv[0], f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.to, "to", "", "directory to unpack the backup into")
	fl.StringArrayVar(&f.paths, "path", nil, "with --to: restore only this file or directory of the backup (repeatable)")
	fl.StringVar(&f.toDSN, "to-dsn", "", "database to load a database backup into (postgres://... or mysql://...)")
	fl.StringVar(&f.database, "database", "", "which database of the backup to load with --to-dsn")
	fl.StringVar(&f.archive, "archive", "", "keep the downloaded archive here (file or directory) and reuse it from here; default: a temporary directory, removed afterwards")
	fl.BoolVar(&f.force, "force", false, "load into a database that is not empty")
	f.store.add(fl, "restore from")
	cmd.ValidArgsFunction = a.idArg(domain.StatusSucceeded)
	cmd.MarkFlagDirname("to")
	cmd.MarkFlagFilename("identity")
	return cmd
}

// check refuses combinations of flags that make no sense.
func (f *restoreFlags) check() error {
	switch {
	case (f.to == "") == (f.toDSN == ""):
		return usageErrorf("give exactly one of --to DIR or --to-dsn DSN (see backupctl restore --help)")
	case len(f.paths) > 0 && f.to == "":
		return usageErrorf("--path goes with --to DIR: --to-dsn loads one whole database (--database)")
	case f.store.repo != "" && f.archive != "":
		return usageErrorf("--archive keeps a download; with --repo nothing is downloaded")
	}
	var err error
	if f.paths, err = archive.CleanPaths(f.paths); err != nil {
		return usageErrorf("--path: %v", err)
	}
	return nil
}

// restoreViaServer restores backup arg through the daemon's download.
func (a *app) restoreViaServer(ctx context.Context, arg string, f restoreFlags) error {
	id, err := parseID(arg)
	if err != nil {
		return err
	}
	var srv source.Server
	var db string
	if f.toDSN != "" {
		if srv, db, err = source.ParseDSN(f.toDSN); err != nil {
			return usageErrorf("--to-dsn: %v", err)
		}
	}
	ids, err := f.store.identities()
	if err != nil {
		return err
	}
	c, err := a.client()
	if err != nil {
		return err
	}
	b, err := c.Backup(ctx, id)
	if err != nil {
		return err
	}
	// Refused before the download: the name says it is encrypted.
	if strings.HasSuffix(b.Archive, archive.EncryptedSuffix) && len(ids) == 0 {
		return usageErrorf("backup %d is encrypted with age (%s): pass --identity FILE with the private key of one of its recipients", id, b.Archive)
	}
	if f.toDSN != "" {
		return a.loadViaServer(ctx, c, b, srv, db, f, ids)
	}
	path, cleanup, err := a.downloadTemp(ctx, c, id, f.archive)
	if err != nil {
		return err
	}
	defer cleanup()
	return a.restoreDir(ctx, path, f.to, f.paths, ids)
}

// downloadTemp fetches backup id's archive into keep (--archive), or into a
// temporary directory that cleanup removes.
func (a *app) downloadTemp(ctx context.Context, c *client.Client, id int64, keep string) (path string, cleanup func(), err error) {
	dest, cleanup := keep, func() {}
	if dest == "" {
		tmp, err := os.MkdirTemp("", "backupctl-restore-")
		if err != nil {
			return "", cleanup, fmt.Errorf("create a temporary directory for the download: %w", err)
		}
		cleanup = func() { os.RemoveAll(tmp) }
		dest = tmp + string(filepath.Separator)
	}
	path, err = a.fetchArchive(ctx, c, id, dest, keep == "")
	if err != nil {
		cleanup()
		return "", func() {}, err
	}
	return path, cleanup, nil
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

func extract(ctx context.Context, path, dir string, paths []string, ids []age.Identity) (archive.Manifest, error) {
	f, err := os.Open(path)
	if err != nil {
		return archive.Manifest{}, fmt.Errorf("open archive: %w", err)
	}
	defer f.Close()
	plain, err := archive.Decrypt(f, ids)
	if err != nil {
		return archive.Manifest{}, fmt.Errorf("%s: %w", path, err)
	}
	m, err := archive.ExtractWith(ctx, plain, dir, archive.ExtractOptions{Paths: paths})
	if err != nil {
		return m, fmt.Errorf("unpack %s: %w", path, err)
	}
	return m, nil
}

func (a *app) restoreDir(ctx context.Context, path, dir string, paths []string, ids []age.Identity) error {
	m, err := extract(ctx, path, dir, paths, ids)
	if err != nil {
		return err
	}
	n, size, missing := selected(m.Entries, paths)
	if len(missing) > 0 {
		return fmt.Errorf("backup %d has no %s (backupctl ls %d lists what it holds)", m.BackupID, strings.Join(missing, ", "), m.BackupID)
	}
	a.printf("restored backup %d of %s (%s, %d entries, %s) into %s\n", m.BackupID, m.Source, m.Kind, n, humanBytes(size), dir)
	return nil
}

// selected counts the manifest entries paths select and their bytes, and
// lists the paths that select none.
func selected(entries []archive.Entry, paths []string) (n int, size int64, missing []string) {
	hit := make([]bool, len(paths))
	for _, e := range entries {
		if !archive.Selected(e.Name, paths) {
			continue
		}
		n++
		size += e.Size
		for i, p := range paths {
			hit[i] = hit[i] || archive.Selected(e.Name, []string{p})
		}
	}
	for i, p := range paths {
		if !hit[i] {
			missing = append(missing, p)
		}
	}
	return n, size, missing
}

func pickDatabase(infos map[string]source.DatabaseInfo, want string) (string, error) {
	names := make([]string, 0, len(infos))
	for n := range infos {
		names = append(names, n)
	}
	return pickName(names, want)
}

// pickName chooses the database to load among names: want, or the only
// one.
func pickName(names []string, want string) (string, error) {
	slices.Sort(names)
	switch {
	case want != "":
		if !slices.Contains(names, want) {
			return "", usageErrorf("--database %s: the backup holds %s", want, strings.Join(names, ", "))
		}
		return want, nil
	case len(names) == 1:
		return names[0], nil
	case len(names) == 0:
		return "", fmt.Errorf("the backup holds no database dump")
	}
	return "", usageErrorf("the backup holds several databases (%s): choose one with --database", strings.Join(names, ", "))
}
