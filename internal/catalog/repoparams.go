package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/backupd/backupd/internal/domain"
)

// RepoParams returns the repository parameters kept in the catalog
// (repo.MarshalParams' encoding); ENOTFOUND before the first start that
// made a repository.
func (db *DB) RepoParams(ctx context.Context) ([]byte, error) {
	var b []byte
	err := db.read.QueryRowContext(ctx, `SELECT params FROM repo_params WHERE id = 1`).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, domain.Errorf(domain.ENOTFOUND, "the catalog holds no repository parameters")
	}
	if err != nil {
		return nil, fmt.Errorf("read repository parameters: %w", err)
	}
	return b, nil
}

// SaveRepoParams keeps the repository parameters; it refuses to replace
// others, which would orphan every chunk the index knows.
func (db *DB) SaveRepoParams(ctx context.Context, params []byte) error {
	return db.update(ctx, func(tx *sql.Tx) (bool, error) {
		res, err := tx.ExecContext(ctx, `INSERT INTO repo_params (id, params) VALUES (1, ?) ON CONFLICT (id) DO NOTHING`, params)
		if err != nil {
			return false, fmt.Errorf("save repository parameters: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return false, domain.Errorf(domain.ECONFLICT, "the catalog already holds repository parameters")
		}
		return false, nil
	})
}

// RepoBytes is the total size of the packs the index records: the space
// the repository takes in the store.
func (db *DB) RepoBytes(ctx context.Context) (int64, error) {
	var n int64
	if err := db.read.QueryRowContext(ctx, `SELECT coalesce(sum(size), 0) FROM repo_packs`).Scan(&n); err != nil {
		return 0, fmt.Errorf("repository size: %w", err)
	}
	return n, nil
}

// AppendEvent records an event that is about no one backup (repo.pruned),
// with data as its payload.
func (db *DB) AppendEvent(ctx context.Context, typ string, data []byte) (domain.Event, error) {
	ev := domain.Event{Type: typ, Data: data}
	err := db.update(ctx, func(tx *sql.Tx) (bool, error) {
		now := time.Now().UTC()
		ev.Time = now
		err := tx.QueryRowContext(ctx, `INSERT INTO events (type, source, time, data) VALUES (?, '', ?, ?) RETURNING id`,
			typ, formatTime(now), string(data)).Scan(&ev.ID)
		if err != nil {
			return false, fmt.Errorf("append event: %w", err)
		}
		return true, nil
	})
	return ev, err
}

// DropRepoLeases removes every repository lease. Only for a daemon that
// knows no other process uses this catalog (it holds the data_dir lock)
// and that runs no backup yet: the leases left are those of backups a
// crash killed, which would otherwise keep prune from reclaiming their
// packs until they lapsed.
func (db *DB) DropRepoLeases(ctx context.Context) (int, error) {
	var n int64
	err := db.update(ctx, func(tx *sql.Tx) (bool, error) {
		res, err := tx.ExecContext(ctx, `DELETE FROM repo_leases`)
		if err != nil {
			return false, fmt.Errorf("drop repository leases: %w", err)
		}
		n, _ = res.RowsAffected()
		return false, nil
	})
	return int(n), err
}
