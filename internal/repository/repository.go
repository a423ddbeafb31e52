// Package repository is the daemon's side of the deduplicated repository
// (internal/repo): it makes the repository at the first start and keeps
// its parameters in the catalog, forgets the snapshots retention expires,
// prunes, checks, lists snapshot trees and builds the tar.zst exports that
// downloads send.
package repository

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"filippo.io/age"

	"github.com/backupd/backupd/internal/domain"
	"github.com/backupd/backupd/internal/repo"
)

// Catalog is the part of the catalog the repository uses.
type Catalog interface {
	RepoParams(ctx context.Context) ([]byte, error)
	SaveRepoParams(ctx context.Context, params []byte) error
	RepoIndex() repo.Index
	RepoBytes(ctx context.Context) (int64, error)
	AppendEvent(ctx context.Context, typ string, data []byte) (domain.Event, error)
	SetExport(ctx context.Context, id int64, sha256 string, size int64) error
	Backup(ctx context.Context, id int64) (domain.Backup, error)
	DropRepoLeases(ctx context.Context) (int, error)
}

// Options configure Open.
type Options struct {
	Backend    repo.Backend
	Recipients []age.Recipient
	// Identities, when the daemon has encryption.identity_file, let it
	// read an encrypted repository: exports, tree listings, drills, a
	// check of the data. Without them it only writes.
	Identities  []age.Identity
	Compression string
	// CacheDir keeps each source's last tree (files not read again).
	CacheDir string
	// ExportDir holds the exports built for downloads; ExportBudget is
	// how many bytes of them are kept (the newest export always is), and
	// ExportMaxAge how long one unused is kept.
	ExportDir    string
	ExportBudget int64
	ExportMaxAge time.Duration
	// PruneMargin is prune's safety margin (repo.PruneOptions.Margin).
	PruneMargin time.Duration
	// PackSize is the pack size, 0 for repo.DefaultPackSize.
	PackSize int
	Version  string
	Logger   *slog.Logger
}

// Repository is the daemon's repository.
type Repository struct {
	r       *repo.Repo
	db      Catalog
	opt     Options
	log     *slog.Logger
	pruneMu sync.Mutex
	exports *exports
}

// Open opens the repository in opt.Backend with the parameters the
// catalog keeps, making the repository first if there is none: the
// parameters go into the catalog before the repository into the store,
// so that a crash in between is completed at the next start rather than
// leaving a repository whose keys nobody has. A daemon with recipients
// only keeps writing without ever reading the store.
func Open(ctx context.Context, db Catalog, opt Options) (*Repository, error) {
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	p, err := params(ctx, db, opt)
	if err != nil {
		return nil, err
	}
	if p.Encrypted != (len(opt.Recipients) > 0) {
		if p.Encrypted {
			return nil, domain.Errorf(domain.EINVALID, "the repository at %s is encrypted, but encryption.recipients is empty: give its recipients again", opt.Backend.Where())
		}
		return nil, domain.Errorf(domain.EINVALID, "encryption.recipients is set, but the repository at %s was made without encryption and cannot become encrypted: remove the recipients, or start with a new archive_dir (or bucket prefix) to encrypt", opt.Backend.Where())
	}
	r, err := repo.Open(ctx, opt.Backend, repo.Options{Params: &p, Recipients: opt.Recipients, Identities: opt.Identities,
		Index: db.RepoIndex(), Compression: opt.Compression, PackSize: opt.PackSize, CacheDir: opt.CacheDir})
	if err != nil {
		return nil, err
	}
	x := &Repository{r: r, db: db, opt: opt, log: opt.Logger.With("component", "repository")}
	// One daemon per data_dir (its lock), and no backup has started: every
	// lease left is a crashed backup's.
	if n, err := db.DropRepoLeases(ctx); err != nil {
		r.Close()
		return nil, err
	} else if n > 0 {
		x.log.Info("dropped the repository leases of backups a crash interrupted", "leases", n)
	}
	if x.exports, err = newExports(x); err != nil {
		r.Close()
		return nil, err
	}
	return x, nil
}

// params returns the parameters the catalog keeps, making them (and the
// repository) on the first start.
func params(ctx context.Context, db Catalog, opt Options) (repo.Params, error) {
	be := opt.Backend
	exists, err := repo.Exists(ctx, be)
	if err != nil {
		return repo.Params{}, err
	}
	b, err := db.RepoParams(ctx)
	switch {
	case err == nil:
		p, err := repo.UnmarshalParams(b)
		if err != nil || exists {
			return p, err
		}
		return p, completeInit(ctx, db, opt, p)
	case domain.ErrorCode(err) != domain.ENOTFOUND:
		return repo.Params{}, err
	case exists:
		return adopt(ctx, db, opt)
	}
	p := repo.NewParams(len(opt.Recipients) > 0)
	enc, err := repo.MarshalParams(p)
	if err != nil {
		return p, err
	}
	if err := db.SaveRepoParams(ctx, enc); err != nil {
		return p, err
	}
	if err := repo.InitParams(ctx, be, opt.Recipients, p); err != nil {
		return p, err
	}
	opt.Logger.Info("made a new repository", "where", be.Where(), "encrypted", p.Encrypted)
	return p, nil
}

// completeInit writes the store's config for parameters the catalog has:
// what a crash between keeping them and making the repository left. If
// the index knows packs, the store is not the one the catalog wrote to.
func completeInit(ctx context.Context, db Catalog, opt Options, p repo.Params) error {
	packs, err := db.RepoIndex().Packs(ctx)
	if err != nil {
		return err
	}
	if len(packs) > 0 {
		return domain.Errorf(domain.ECONFLICT, "the catalog records %d packs of repository %s, but %s holds no repository: is archive_dir (or the bucket and prefix) the one the backups were written to?", len(packs), p.RepoID, opt.Backend.Where())
	}
	return repo.InitParams(ctx, opt.Backend, opt.Recipients, p)
}

// adopt takes the parameters of a repository the catalog does not know
// (a new catalog beside an existing store) from the store's config, which
// an encrypted repository gives up only to its identity.
func adopt(ctx context.Context, db Catalog, opt Options) (repo.Params, error) {
	r, err := repo.Open(ctx, opt.Backend, repo.Options{Identities: opt.Identities})
	if err != nil {
		return repo.Params{}, fmt.Errorf("%s holds a repository this catalog has no parameters for, and they cannot be read from the store (%w): give encryption.identity_file, or restore the catalog that wrote it", opt.Backend.Where(), err)
	}
	defer r.Close()
	p := r.Params()
	enc, err := repo.MarshalParams(p)
	if err != nil {
		return p, err
	}
	if err := db.SaveRepoParams(ctx, enc); err != nil {
		return p, err
	}
	opt.Logger.Warn("took the parameters of the repository in the store into a catalog that had none; its index starts empty, so the next backups store everything again", "where", opt.Backend.Where())
	return p, nil
}

// Repo is the open repository, for readers (restore drills).
func (x *Repository) Repo() *repo.Repo { return x.r }

// CanRead reports whether the daemon can read what the repository holds:
// it is not encrypted, or the daemon has the identity.
func (x *Repository) CanRead() bool {
	return !x.r.Params().Encrypted || len(x.opt.Identities) > 0
}

// Where names the store.
func (x *Repository) Where() string { return x.opt.Backend.Where() }

// Close releases the repository.
func (x *Repository) Close() error { return x.r.Close() }

// NewBackup starts a backup (runner.Repository).
func (x *Repository) NewBackup(ctx context.Context, meta repo.Meta) (*repo.Backup, error) {
	return x.r.NewBackup(ctx, meta)
}

// errNoIdentity is what reading an encrypted repository without the
// identity answers.
func errNoIdentity(what string) error {
	return domain.Errorf(domain.ECONFLICT, "%s needs reading the repository, which is encrypted, and this daemon has no encryption.identity_file (by design it only writes): restore with backupctl restore ID --identity FILE --repo LOCATION where the key is, reading the store directly", what)
}

// snapshot reads backup b's snapshot from the store.
func (x *Repository) snapshot(ctx context.Context, b domain.Backup, what string) (repo.Snapshot, error) {
	if b.Snapshot == "" {
		return repo.Snapshot{}, domain.Errorf(domain.EINVALID, "backup %d is a tar.zst archive, not in the repository", b.ID)
	}
	if !x.CanRead() {
		return repo.Snapshot{}, errNoIdentity(what)
	}
	id, err := repo.ParseID(b.Snapshot)
	if err != nil {
		return repo.Snapshot{}, err
	}
	return x.r.Snapshot(ctx, id)
}
