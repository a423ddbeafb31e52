package restore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/backupd/backupd/internal/archive"
	"github.com/backupd/backupd/internal/config"
	"github.com/backupd/backupd/internal/domain"
	"github.com/backupd/backupd/internal/repo"
	"github.com/backupd/backupd/internal/source"
)

// drillSnapshot drills a backup stored in the repository: every chunk of
// its snapshot is read, decrypted when encrypted, decompressed and checked
// against its id (the keyed hash of its content); a files or sqlite tree
// is restored into a scratch dir and checked against the tree, and each
// database dump is streamed from the repository straight into pg_restore
// or mariadb loading a throwaway database, without a temporary file.
func (d *Drill) drillSnapshot(ctx context.Context, b domain.Backup) error {
	if d.Repo == nil {
		return fmt.Errorf("backup %d is in the repository, and this drill has none", b.ID)
	}
	if d.Repo.Params().Encrypted && len(d.Identities) == 0 {
		return errors.New("it is encrypted and the daemon has no encryption.identity_file to read it (or drill it where the key is: backupctl restore --identity)")
	}
	id, err := repo.ParseID(b.Snapshot)
	if err != nil {
		return err
	}
	snap, err := d.Repo.Snapshot(ctx, id)
	if err != nil {
		return fmt.Errorf("read snapshot %s: %w", b.Snapshot, err)
	}
	var info map[string]any
	if len(snap.Info) > 0 {
		if err := json.Unmarshal(snap.Info, &info); err != nil {
			return fmt.Errorf("snapshot %s: info: %w", snap.ID, err)
		}
	}
	switch snap.Kind {
	case config.KindPostgres, config.KindMySQL:
		cfg, ok := d.Sources[b.Source]
		if !ok || cfg.Kind != snap.Kind {
			return fmt.Errorf("source %s is no longer configured as %s: the drill restores onto the source's own server and cannot tell which", b.Source, snap.Kind)
		}
		return d.streamDatabases(ctx, cfg, snap, info, b.ID)
	case config.KindFiles, config.KindCommand, config.KindSQLite:
		return d.restoreTree(ctx, snap, info)
	}
	return fmt.Errorf("snapshot of kind %q: no drill knows how to restore it", snap.Kind)
}

// restoreTree restores the snapshot into a scratch dir (every chunk
// checked on the way) and compares what is on disk with the tree; for
// sqlite, the database is then checked as for an archive.
func (d *Drill) restoreTree(ctx context.Context, snap repo.Snapshot, info map[string]any) error {
	dir, err := os.MkdirTemp(d.TempDir, "drill-*")
	if err != nil {
		return fmt.Errorf("create scratch dir: %w", err)
	}
	defer os.RemoveAll(dir)
	if err := d.Repo.Restore(ctx, snap, dir, repo.RestoreOptions{}); err != nil {
		return fmt.Errorf("the snapshot does not restore: %w", err)
	}
	var entries []repo.Entry
	if err := d.Repo.Walk(ctx, snap, func(e repo.Entry) error { entries = append(entries, e); return nil }); err != nil {
		return err
	}
	if err := checkTree(dir, entries); err != nil {
		return err
	}
	if snap.Kind != config.KindSQLite {
		return nil
	}
	m := archive.Manifest{Kind: snap.Kind, Info: info}
	for _, e := range entries {
		m.Entries = append(m.Entries, archive.Entry{Name: e.Path, Type: e.Type, Size: e.Size})
	}
	return checkSQLite(ctx, dir, m)
}

// checkTree compares what was restored below dir with the tree: types,
// sizes, link targets. The content was checked chunk by chunk as it was
// restored.
func checkTree(dir string, entries []repo.Entry) error {
	var probs []string
	for _, e := range entries {
		p := filepath.Join(dir, filepath.FromSlash(e.Path))
		fi, err := os.Lstat(p)
		if err != nil {
			probs = append(probs, fmt.Sprintf("%s: not restored (%v)", e.Path, err))
			continue
		}
		switch e.Type {
		case repo.TypeDir:
			if !fi.IsDir() {
				probs = append(probs, e.Path+": restored as something other than a directory")
			}
		case repo.TypeSymlink:
			if t, err := os.Readlink(p); err != nil || t != e.Link {
				probs = append(probs, fmt.Sprintf("%s: links to %q, the tree says %q", e.Path, t, e.Link))
			}
		case repo.TypeFile:
			if !fi.Mode().IsRegular() || fi.Size() != e.Size {
				probs = append(probs, fmt.Sprintf("%s: restored %d bytes, the tree says %d", e.Path, fi.Size(), e.Size))
			}
		}
	}
	return problems("the restored files do not match the snapshot", probs)
}

// streamDatabases loads each database dump of the snapshot into a
// throwaway database, streaming it from the repository into the tool,
// and compares row counts; every other entry (globals.sql) is read
// through, so that each of its chunks is checked too.
func (d *Drill) streamDatabases(ctx context.Context, cfg config.Source, snap repo.Snapshot, info map[string]any, id int64) error {
	infos, err := source.DatabasesFromInfo(info)
	if err != nil {
		return err
	}
	srv := source.ServerOf(cfg)
	streams := map[string]string{} // entry -> database
	for db, in := range infos {
		streams[in.Stream] = db
	}
	var entries []repo.Entry
	if err := d.Repo.Walk(ctx, snap, func(e repo.Entry) error { entries = append(entries, e); return nil }); err != nil {
		return err
	}
	for _, e := range entries {
		if e.Type != repo.TypeFile {
			continue
		}
		db, ok := streams[e.Path]
		if !ok {
			rc := d.Repo.OpenEntry(ctx, e)
			_, err := io.Copy(io.Discard, rc)
			rc.Close()
			if err != nil {
				return fmt.Errorf("%s does not read back: %w", e.Path, err)
			}
			continue
		}
		delete(streams, e.Path)
		if err := d.loadDatabase(ctx, srv, snap, e, infos[db], id); err != nil {
			return fmt.Errorf("database %s: %w", db, err)
		}
	}
	for stream, db := range streams {
		return fmt.Errorf("database %s: its dump %s is not in the snapshot", db, stream)
	}
	return nil
}

func (d *Drill) loadDatabase(ctx context.Context, srv source.Server, snap repo.Snapshot, e repo.Entry, info source.DatabaseInfo, id int64) error {
	scratch := fmt.Sprintf("backupd_drill_%d_%s", id, randHex(4))
	if err := CreateDatabase(ctx, srv, scratch); err != nil {
		return fmt.Errorf("scratch database: %w", err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if err := DropDatabase(dctx, srv, scratch); err != nil {
			d.logger().Error("drop scratch database", "database", scratch, "err", err)
		}
	}()
	pr, pw := io.Pipe()
	dumped := make(chan error, 1)
	go func() {
		rc := d.Repo.OpenEntry(ctx, e)
		_, err := io.Copy(pw, rc)
		rc.Close()
		pw.CloseWithError(err)
		dumped <- err
	}()
	loadErr := DatabaseFrom(ctx, srv, scratch, pr, d.TempDir, false)
	pr.CloseWithError(errToolStopped)
	switch dumpErr := <-dumped; {
	case dumpErr != nil && !errors.Is(dumpErr, errToolStopped):
		return fmt.Errorf("the dump does not read back from the repository: %w", dumpErr)
	case loadErr != nil:
		return fmt.Errorf("the dump does not restore: %w", loadErr)
	}
	got, err := Count(ctx, srv, scratch)
	if err != nil {
		return err
	}
	return compareCounts("", info.Tables, got, info.Exact)
}

var errToolStopped = errors.New("the restore tool stopped reading")
