package main

import (
	"context"
	"fmt"
	"log/slog"
	"slices"

	"filippo.io/age"

	"github.com/backupd/backupd/internal/archive"
	"github.com/backupd/backupd/internal/catalog"
	"github.com/backupd/backupd/internal/config"
	"github.com/backupd/backupd/internal/domain"
	"github.com/backupd/backupd/internal/repository"
	"github.com/backupd/backupd/internal/restore"
	"github.com/backupd/backupd/internal/storage"
)

// newDrill returns the restore drill behind POST /backups/{id}/verify and
// verify: true. Database drills restore onto the source's own server, so
// it gets the configured sources.
func newDrill(cfg config.Config, db *catalog.DB, store storage.Store, repos *repository.Repository, tmp string, ids []age.Identity, log *slog.Logger) *restore.Drill {
	return &restore.Drill{Store: db, Archives: store, Repo: repos.Repo(), Sources: cfg.Sources, TempDir: tmp, Identities: ids, Logger: log}
}

// encryptionKeys parses encryption.recipients and reads
// encryption.identity_file (config validation has checked their form).
// The identity file must hold the private key of at least one recipient:
// otherwise every drill of an encrypted archive would fail, and that is
// better said at start than after the first backup.
func encryptionKeys(e config.Encryption) ([]age.Recipient, []age.Identity, error) {
	var rs []age.Recipient
	var keys []string // the recipients as age writes them
	for _, s := range e.Recipients {
		r, err := age.ParseX25519Recipient(s)
		if err != nil {
			return nil, nil, fmt.Errorf("encryption.recipients: %w", err)
		}
		rs = append(rs, r)
		keys = append(keys, r.String())
	}
	if e.IdentityFile == "" {
		return rs, nil, nil
	}
	ids, err := archive.ReadIdentities(e.IdentityFile)
	if err != nil {
		return nil, nil, fmt.Errorf("encryption.identity_file: %w", err)
	}
	if !holdsKeyOf(ids, keys) {
		return nil, nil, fmt.Errorf("encryption.identity_file: %s holds no private key of any of encryption.recipients, so the daemon could not read its own archives; give the file age-keygen wrote for one of them", e.IdentityFile)
	}
	return rs, ids, nil
}

// holdsKeyOf reports whether one of ids is the private key of one of the
// recipients (age1... strings).
func holdsKeyOf(ids []age.Identity, recipients []string) bool {
	for _, id := range ids {
		x, ok := id.(*age.X25519Identity)
		if !ok {
			continue
		}
		if slices.Contains(recipients, x.Recipient().String()) {
			return true
		}
	}
	return false
}

// verifyAfterSuccess runs a drill after each successful backup of a source
// with verify: true. The outcome is recorded on the backup (and sent as a
// backup.verified event); here it is only logged.
func verifyAfterSuccess(cfg config.Config, drill *restore.Drill, log *slog.Logger) func(context.Context, domain.Backup) {
	return func(ctx context.Context, b domain.Backup) {
		if !cfg.Sources[b.Source].Verify {
			return
		}
		if _, err := drill.Verify(ctx, b.ID); err != nil {
			log.Error("restore drill could not run", "backup", b.ID, "source", b.Source, "err", err)
		}
	}
}
