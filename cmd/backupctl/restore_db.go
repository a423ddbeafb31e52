package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"filippo.io/age"

	"github.com/backupd/backupd/internal/archive"
	"github.com/backupd/backupd/internal/client"
	"github.com/backupd/backupd/internal/config"
	"github.com/backupd/backupd/internal/domain"
	"github.com/backupd/backupd/internal/restore"
	"github.com/backupd/backupd/internal/source"
)

// dumpSuffix is how a kind's dumps are named in a backup: <db>.pgdump,
// <db>.sql.
func dumpSuffix(kind string) string {
	if kind == config.KindPostgres {
		return ".pgdump"
	}
	return ".sql"
}

// loadViaServer loads a database backup into db on srv. The archive goes
// from the download (or the --archive file) through zstd and tar into
// the restore tool's stdin; only an old archive of which the catalog
// cannot say which dump to load is unpacked to a temporary file first.
func (a *app) loadViaServer(ctx context.Context, c *client.Client, b domain.Backup, srv source.Server, db string, f restoreFlags, ids []age.Identity) error {
	if b.Kind != "" && b.Kind != srv.Kind {
		return usageErrorf("backup %d is a %s backup; --to-dsn names a %s database", b.ID, b.Kind, srv.Kind)
	}
	name, err := a.dumpName(ctx, c, b, srv.Kind, f.database)
	if err != nil {
		return err
	}
	if name == "" {
		return a.loadUnpacked(ctx, c, b.ID, srv, db, f, ids)
	}
	if err := checkEmpty(ctx, srv, db, f.force); err != nil {
		return err
	}
	var src io.Reader
	if f.archive != "" {
		path, err := a.fetchArchive(ctx, c, b.ID, f.archive, false)
		if err != nil {
			return err
		}
		file, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("open archive: %w", err)
		}
		defer file.Close()
		src = file
	} else {
		s, err := c.OpenArchive(ctx, b.ID)
		if err != nil {
			return err
		}
		defer s.Close()
		src = s
	}
	var m archive.Manifest
	err = loadDump(ctx, srv, db, f.force, func(ctx context.Context, w io.WriteCloser) error {
		plain, err := archive.Decrypt(src, ids)
		if err != nil {
			return err
		}
		m, err = archive.ExtractStream(ctx, plain, name+dumpSuffix(srv.Kind), w)
		return err
	})
	if err != nil {
		return err
	}
	a.printLoaded(m.Info, name, b.ID, db, srv)
	return nil
}

// dumpName is the database to load: --database, or the one dump of a
// repository backup's tree; "" when only the archive's manifest can say
// (an archive made before the repository).
func (a *app) dumpName(ctx context.Context, c *client.Client, b domain.Backup, kind, want string) (string, error) {
	if want != "" {
		return want, nil
	}
	if b.Snapshot == "" {
		return "", nil
	}
	entries, err := c.Tree(ctx, b.ID, "")
	if err != nil {
		return "", err
	}
	var names []string
	for _, e := range entries {
		if n, ok := strings.CutSuffix(e.Name, dumpSuffix(kind)); ok && e.Type != "dir" {
			names = append(names, n)
		}
	}
	return pickName(names, "")
}

// loadUnpacked is the restore of an old archive: downloaded, unpacked
// into a temporary directory, then loaded from the dump file.
func (a *app) loadUnpacked(ctx context.Context, c *client.Client, id int64, srv source.Server, db string, f restoreFlags, ids []age.Identity) error {
	path, cleanup, err := a.downloadTemp(ctx, c, id, f.archive)
	if err != nil {
		return err
	}
	defer cleanup()
	tmp, err := os.MkdirTemp("", "backupctl-restore-")
	if err != nil {
		return fmt.Errorf("create temp dir: %w", err)
	}
	defer os.RemoveAll(tmp)
	m, err := extract(ctx, path, filepath.Join(tmp, "x"), nil, ids)
	if err != nil {
		return err
	}
	infos, err := source.DatabasesFromInfo(m.Info)
	if err != nil {
		return err
	}
	name, err := pickDatabase(infos, f.database)
	if err != nil {
		return err
	}
	if err := checkEmpty(ctx, srv, db, f.force); err != nil {
		return err
	}
	dump := filepath.Join(tmp, "x", filepath.FromSlash(infos[name].Stream))
	if err := restore.Database(ctx, srv, db, dump, tmp, f.force); err != nil {
		return err
	}
	a.printLoaded(m.Info, name, m.BackupID, db, srv)
	return nil
}

// checkEmpty refuses a target database that holds objects, unless force.
func checkEmpty(ctx context.Context, srv source.Server, db string, force bool) error {
	if force {
		return nil
	}
	n, err := restore.Objects(ctx, srv, db)
	if err != nil {
		return err
	}
	if n > 0 {
		return fmt.Errorf("database %s on %s is not empty (%d tables, views or routines): restore into an empty database, or pass --force to replace what the dump holds", db, srv.Addr(), n)
	}
	return nil
}

func (a *app) printLoaded(info map[string]any, name string, id int64, db string, srv source.Server) {
	tables := ""
	if infos, err := source.DatabasesFromInfo(info); err == nil {
		if di, ok := infos[name]; ok {
			tables = fmt.Sprintf(" (%d tables)", len(di.Tables))
		}
	}
	a.printf("restored database %s of backup %d into %s on %s%s\n", name, id, db, srv.Addr(), tables)
}

// loadDump runs the restore tool on what produce writes to w, through a
// pipe: nothing is written to disk. produce closes w once the dump is
// written, so the tool sees its end, and may go on checking what follows.
// The tool may have loaded data by the time produce fails; the error
// says so.
func loadDump(ctx context.Context, srv source.Server, db string, force bool, produce func(ctx context.Context, w io.WriteCloser) error) error {
	pr, pw, err := toolPipe()
	if err != nil {
		return fmt.Errorf("make a pipe: %w", err)
	}
	tmp, err := os.MkdirTemp("", "backupctl-restore-")
	if err != nil {
		pr.Close()
		pw.Close()
		return fmt.Errorf("create temp dir: %w", err)
	}
	defer os.RemoveAll(tmp)
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		err := produce(pctx, pw)
		pw.Close()
		done <- err
	}()
	toolErr := restore.DatabaseFrom(ctx, srv, db, pr, tmp, force)
	// Writes to a pipe nobody reads fail now, rather than block.
	pr.Close()
	if toolErr != nil {
		cancel()
	}
	prodErr := <-done
	switch {
	case prodErr == nil:
		return toolErr
	case toolErr != nil && brokenOff(prodErr):
		return toolErr
	case toolErr != nil:
		return fmt.Errorf("%w (and then %v); database %s on %s may hold part of the dump: drop it, or restore again with --force", prodErr, toolErr, db, srv.Addr())
	}
	return fmt.Errorf("%w; database %s on %s may hold part of the dump, or all of it unverified: drop it, or restore again with --force", prodErr, db, srv.Addr())
}

// brokenOff reports whether err is only the writer's side of the tool
// having stopped.
func brokenOff(err error) bool {
	return errors.Is(err, syscall.EPIPE) || errors.Is(err, context.Canceled) || errors.Is(err, os.ErrClosed)
}
