package restore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"filippo.io/age"

	"github.com/backupd/backupd/internal/archive"
	"github.com/backupd/backupd/internal/catalog"
	"github.com/backupd/backupd/internal/config"
	"github.com/backupd/backupd/internal/domain"
	"github.com/backupd/backupd/internal/repo"
	"github.com/backupd/backupd/internal/storage"
)

// Store is the part of the catalog a drill uses.
type Store interface {
	Backup(ctx context.Context, id int64) (domain.Backup, error)
	RecordVerify(ctx context.Context, id int64, status, reason string) (domain.Backup, error)
}

// Archives opens stored archives.
type Archives interface {
	Open(name string) (storage.Object, error)
}

// Drill runs restore drills: it restores a backup's archive into scratch
// space (a temp dir, a throwaway database on the source's own server),
// checks the result against the manifest, removes the scratch and records
// the outcome on the backup. It implements httpapi.Verifier.
type Drill struct {
	Store    Store
	Archives Archives
	// Sources are the configured sources: a database drill restores onto
	// the server the source was dumped from, with the source's credentials.
	Sources map[string]config.Source
	// TempDir holds the scratch directories.
	TempDir string
	Logger  *slog.Logger
	// Identities decrypt archives encrypted with age
	// (encryption.identity_file); without them such an archive fails its
	// drill, saying so.
	Identities []age.Identity
	// Repo is the repository, for drills of the backups stored there
	// (opened with Identities, if any).
	Repo *repo.Repo
}

// Verify runs a drill of backup id and records its outcome. A drill that
// fails is not an error: the backup comes back with verify_status
// "failed" and the reason in verify_error. Errors are for a backup that
// cannot be drilled at all (unknown, not succeeded, no archive) or a
// canceled ctx.
func (d *Drill) Verify(ctx context.Context, id int64) (domain.Backup, error) {
	b, err := d.Store.Backup(ctx, id)
	if err != nil {
		return b, err
	}
	if b.Origin != domain.OriginLocal || b.Status != domain.StatusSucceeded || b.Archive == "" {
		return b, domain.Errorf(domain.ECONFLICT, "backup %d has no archive to restore (status %s, origin %s): only succeeded local backups can be verified", id, b.Status, b.Origin)
	}
	log := d.logger().With("backup", id, "source", b.Source)
	start := time.Now()
	drillErr := d.drill(ctx, b)
	if ctx.Err() != nil {
		return b, fmt.Errorf("restore drill of backup %d: %w", id, ctx.Err())
	}
	status, reason := catalog.VerifyPassed, ""
	if drillErr != nil {
		status, reason = catalog.VerifyFailed, drillErr.Error()
		log.Warn("restore drill failed", "err", drillErr, "took", time.Since(start).Round(time.Millisecond))
	} else {
		log.Info("restore drill passed", "took", time.Since(start).Round(time.Millisecond))
	}
	// Recorded even if the caller went away meanwhile: the drill ran.
	return d.Store.RecordVerify(context.WithoutCancel(ctx), id, status, reason)
}

func (d *Drill) logger() *slog.Logger {
	if d.Logger == nil {
		return slog.Default()
	}
	return d.Logger.With("component", "drill")
}

// drill restores b and checks it; the error says what did not hold.
func (d *Drill) drill(ctx context.Context, b domain.Backup) error {
	if b.Snapshot != "" {
		return d.drillSnapshot(ctx, b)
	}
	dir, err := os.MkdirTemp(d.TempDir, "drill-*")
	if err != nil {
		return fmt.Errorf("create scratch dir: %w", err)
	}
	defer os.RemoveAll(dir)
	m, err := d.extract(ctx, b, dir)
	if err != nil {
		return err
	}
	switch m.Kind {
	case config.KindFiles, config.KindCommand:
		return checkEntries(dir, m)
	case config.KindSQLite:
		return checkSQLite(ctx, dir, m)
	case config.KindPostgres, config.KindMySQL:
		cfg, ok := d.Sources[b.Source]
		if !ok || cfg.Kind != m.Kind {
			return fmt.Errorf("source %s is no longer configured as %s: the drill restores onto the source's own server and cannot tell which", b.Source, m.Kind)
		}
		return d.checkDatabases(ctx, cfg, dir, m, b.ID)
	}
	return fmt.Errorf("archive of kind %q: no drill knows how to restore it", m.Kind)
}

// extract unpacks the archive into dir, hashing the file on the way: a
// damaged archive is reported by its SHA-256 against the catalog's first,
// as that is the plainest statement of what is wrong.
func (d *Drill) extract(ctx context.Context, b domain.Backup, dir string) (archive.Manifest, error) {
	f, err := d.Archives.Open(b.Archive)
	if err != nil {
		return archive.Manifest{}, fmt.Errorf("open archive %s: %w", b.Archive, err)
	}
	defer f.Close()
	h := sha256.New()
	tee := io.TeeReader(f, h)
	var m archive.Manifest
	plain, xerr := archive.Decrypt(tee, d.Identities)
	if xerr != nil && len(d.Identities) == 0 {
		xerr = errors.New("it is encrypted and the daemon has no encryption.identity_file to read it (or drill it where the key is: backupctl restore --identity)")
	}
	if xerr == nil {
		m, xerr = archive.Extract(ctx, plain, dir)
	}
	if _, err := io.Copy(io.Discard, tee); err != nil && xerr == nil {
		xerr = fmt.Errorf("read archive: %w", err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != b.SHA256 {
		msg := fmt.Sprintf("archive %s is damaged: its SHA-256 is %s but the catalog recorded %s", b.Archive, got, b.SHA256)
		if xerr != nil {
			msg += "; restoring it fails: " + xerr.Error()
		}
		return m, errors.New(msg)
	}
	if xerr != nil {
		return m, fmt.Errorf("the archive does not restore: %w", xerr)
	}
	return m, nil
}
