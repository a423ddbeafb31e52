package source

import (
	"archive/tar"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mattn/go-sqlite3"

	"github.com/backupd/backupd/internal/config"
	"github.com/backupd/backupd/internal/domain"
)

// SQLite dumps a live SQLite database. It copies a consistent snapshot
// with SQLite's online backup API into a scratch file (other processes may
// keep writing, in WAL or rollback-journal mode), checks the copy with
// PRAGMA integrity_check, records each table's row count in the manifest
// as "tables", and stores the copy under the database's base name.
type SQLite struct {
	name string
	path string
}

func newSQLite(name string, cfg config.Source) (*SQLite, error) {
	if cfg.Path == "" {
		return nil, domain.Errorf(domain.EINVALID, "source %s: path is required", name)
	}
	return &SQLite{name: name, path: cfg.Path}, nil
}

// Kind implements Source.
func (s *SQLite) Kind() string { return config.KindSQLite }

// Dump implements Source.
func (s *SQLite) Dump(ctx context.Context, a Archive, env Env) error {
	// Checked first because a read-only open of a missing file fails with
	// a driver message that does not say which file.
	fi, err := os.Stat(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return domain.Errorf(domain.ENOTFOUND, "source %s: database %s does not exist", s.name, s.path)
	}
	if err != nil {
		return fmt.Errorf("stat database: %w", err)
	}
	tmp, err := os.CreateTemp(env.TempDir, "sqlite-*.db")
	if err != nil {
		return fmt.Errorf("create scratch file: %w", err)
	}
	tmp.Close()
	defer removeDB(tmp.Name())

	if err := snapshot(ctx, s.path, tmp.Name()); err != nil {
		return err
	}
	tables, err := checkCopy(ctx, tmp.Name())
	if err != nil {
		return err
	}
	a.SetInfo("tables", tables)

	f, err := os.Open(tmp.Name())
	if err != nil {
		return fmt.Errorf("open snapshot: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stat snapshot: %w", err)
	}
	hdr := &tar.Header{
		Typeflag: tar.TypeReg,
		Name:     filepath.Base(s.path),
		Size:     st.Size(),
		Mode:     int64(fi.Mode().Perm()),
		ModTime:  time.Now(), // the snapshot's moment, not the live file's
	}
	if err := a.AddFile(hdr, f); err != nil {
		return fmt.Errorf("archive snapshot: %w", err)
	}
	return nil
}

// snapshot copies the database at src into the empty file dst in one
// backup step: one read transaction, so the copy is a single point in
// time. In WAL mode writers go on meanwhile; in rollback mode they wait
// (busy timeout) for the copy to finish.
func snapshot(ctx context.Context, src, dst string) error {
	srcDB, err := sql.Open("sqlite3", roDSN(src))
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	defer srcDB.Close()
	dstDB, err := sql.Open("sqlite3", dst)
	if err != nil {
		return fmt.Errorf("open snapshot: %w", err)
	}
	defer dstDB.Close()
	sc, err := srcDB.Conn(ctx)
	if err != nil {
		return fmt.Errorf("open database %s: %w", src, err)
	}
	defer sc.Close()
	dc, err := dstDB.Conn(ctx)
	if err != nil {
		return fmt.Errorf("open snapshot: %w", err)
	}
	defer dc.Close()
	return dc.Raw(func(d any) error {
		return sc.Raw(func(s any) error {
			return backup(ctx, d.(*sqlite3.SQLiteConn), s.(*sqlite3.SQLiteConn))
		})
	})
}

func backup(ctx context.Context, dst, src *sqlite3.SQLiteConn) error {
	b, err := dst.Backup("main", src, "main")
	if err != nil {
		return fmt.Errorf("start sqlite backup: %w", err)
	}
	for {
		// -1 copies every page in one step; Step reports busy or locked as
		// not done, and we retry until a writer lets go.
		done, err := b.Step(-1)
		if err != nil {
			b.Finish()
			return fmt.Errorf("sqlite backup: %w", err)
		}
		if done {
			break
		}
		select {
		case <-ctx.Done():
			b.Finish()
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	if err := b.Finish(); err != nil {
		return fmt.Errorf("finish sqlite backup: %w", err)
	}
	return nil
}

// checkCopy runs PRAGMA integrity_check on the copy and counts the rows of
// each table in it.
func checkCopy(ctx context.Context, path string) (map[string]int64, error) {
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		return nil, fmt.Errorf("open snapshot: %w", err)
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, "PRAGMA integrity_check")
	if err != nil {
		return nil, fmt.Errorf("integrity check: %w", err)
	}
	var probs []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			rows.Close()
			return nil, fmt.Errorf("integrity check: %w", err)
		}
		if s != "ok" {
			probs = append(probs, s)
		}
	}
	if err := rows.Close(); err != nil {
		return nil, fmt.Errorf("integrity check: %w", err)
	}
	if len(probs) > 0 {
		return nil, fmt.Errorf("the database copy fails PRAGMA integrity_check: %s", strings.Join(probs[:min(5, len(probs))], "; "))
	}
	return countRows(ctx, db)
}

func countRows(ctx context.Context, db *sql.DB) (map[string]int64, error) {
	rows, err := db.QueryContext(ctx, `SELECT name FROM sqlite_schema
		WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\'
		AND sql NOT LIKE 'CREATE VIRTUAL%' ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list tables: %w", err)
		}
		names = append(names, n)
	}
	if err := rows.Close(); err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	counts := make(map[string]int64, len(names))
	for _, n := range names {
		var c int64
		q := `SELECT count(*) FROM "` + strings.ReplaceAll(n, `"`, `""`) + `"`
		if err := db.QueryRowContext(ctx, q).Scan(&c); err != nil {
			return nil, fmt.Errorf("count rows of %s: %w", n, err)
		}
		counts[n] = c
	}
	return counts, nil
}

// roDSN opens path read-only, so a missing file is never created, with a
// busy timeout for the moments a writer holds a lock.
func roDSN(path string) string {
	u := url.URL{Scheme: "file", Path: path, RawQuery: "mode=ro&_busy_timeout=5000"}
	return u.String()
}

// removeDB removes a scratch database and any journal files beside it.
func removeDB(path string) {
	for _, suffix := range []string{"", "-journal", "-wal", "-shm"} {
		os.Remove(path + suffix)
	}
}
