package restore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	_ "github.com/mattn/go-sqlite3" // registers "sqlite3"

	"github.com/backupd/backupd/internal/archive"
	"github.com/backupd/backupd/internal/config"
	"github.com/backupd/backupd/internal/source"
)

// checkEntries re-reads what was restored to disk and compares every
// entry with the manifest: files by size and checksum, streams by size,
// symlinks by target, directories by existence.
func checkEntries(dir string, m archive.Manifest) error {
	var probs []string
	for _, e := range m.Entries {
		p := filepath.Join(dir, filepath.FromSlash(e.Name))
		fi, err := os.Lstat(p)
		if err != nil {
			probs = append(probs, fmt.Sprintf("%s: not restored (%v)", e.Name, err))
			continue
		}
		switch e.Type {
		case archive.TypeDir:
			if !fi.IsDir() {
				probs = append(probs, e.Name+": restored as something other than a directory")
			}
		case archive.TypeSymlink:
			if t, err := os.Readlink(p); err != nil || t != e.Linkname {
				probs = append(probs, fmt.Sprintf("%s: links to %q, manifest says %q", e.Name, t, e.Linkname))
			}
		case archive.TypeStream:
			// Streams have no hash of their own (docs/archive.md): zstd's
			// checksum covered their bytes while they were extracted.
			switch {
			case !fi.Mode().IsRegular():
				probs = append(probs, e.Name+": restored as something other than a file")
			case fi.Size() != e.Size:
				probs = append(probs, fmt.Sprintf("%s: restored %d bytes, manifest says %d", e.Name, fi.Size(), e.Size))
			}
		case archive.TypeFile:
			if err := checkFile(p, e); err != nil {
				probs = append(probs, fmt.Sprintf("%s: restored %v", e.Name, err))
			}
		}
	}
	return problems("the restored files do not match the manifest", probs)
}

// checkFile compares the restored file at p with its manifest entry: size
// and checksum.
func checkFile(p string, e archive.Entry) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	return e.CheckContent(f)
}

// checkSQLite opens the restored database, runs PRAGMA integrity_check
// and compares row counts with the manifest's info.tables.
func checkSQLite(ctx context.Context, dir string, m archive.Manifest) error {
	var name string
	for _, e := range m.Entries {
		if e.Type == archive.TypeFile {
			name = e.Name
		}
	}
	if name == "" {
		return fmt.Errorf("the archive holds no database file")
	}
	want, err := infoCounts(m.Info["tables"])
	if err != nil {
		return err
	}
	db, err := sql.Open("sqlite3", "file:"+filepath.Join(dir, name)+"?mode=ro")
	if err != nil {
		return fmt.Errorf("open restored database: %w", err)
	}
	defer db.Close()
	var res []string
	rows, err := db.QueryContext(ctx, "PRAGMA integrity_check")
	if err != nil {
		return fmt.Errorf("the restored database cannot be checked: %w", err)
	}
	if res, err = source.ScanStrings(rows); err != nil {
		return fmt.Errorf("integrity check: %w", err)
	}
	if len(res) != 1 || res[0] != "ok" {
		return fmt.Errorf("the restored database fails PRAGMA integrity_check: %s", strings.Join(res[:min(5, len(res))], "; "))
	}
	rows, err = db.QueryContext(ctx, `SELECT name FROM sqlite_schema WHERE type = 'table'
		AND name NOT LIKE 'sqlite\_%' ESCAPE '\' AND sql NOT LIKE 'CREATE VIRTUAL%'`)
	if err != nil {
		return fmt.Errorf("list tables: %w", err)
	}
	tables, err := source.ScanStrings(rows)
	if err != nil {
		return fmt.Errorf("list tables: %w", err)
	}
	got := make(map[string]int64, len(tables))
	for _, t := range tables {
		var n int64
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM "`+strings.ReplaceAll(t, `"`, `""`)+`"`).Scan(&n); err != nil {
			return fmt.Errorf("count rows of %s: %w", t, err)
		}
		got[t] = n
	}
	return compareCounts("", want, got, true)
}

// checkDatabases restores each database of the archive into a throwaway
// database on the source's server and compares its row counts with the
// manifest. The scratch databases are dropped whatever happens.
func (d *Drill) checkDatabases(ctx context.Context, cfg config.Source, dir string, m archive.Manifest, id int64) error {
	infos, err := source.DatabasesFromInfo(m.Info)
	if err != nil {
		return err
	}
	srv := source.ServerOf(cfg)
	names := make([]string, 0, len(infos))
	for n := range infos {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, db := range names {
		info := infos[db]
		scratch := fmt.Sprintf("backupd_drill_%d_%s", id, randHex(4))
		if err := CreateDatabase(ctx, srv, scratch); err != nil {
			return fmt.Errorf("database %s: scratch database: %w", db, err)
		}
		err := func() error {
			defer func() {
				dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
				defer cancel()
				if err := DropDatabase(dctx, srv, scratch); err != nil {
					d.logger().Error("drop scratch database", "database", scratch, "err", err)
				}
			}()
			if err := Database(ctx, srv, scratch, filepath.Join(dir, filepath.FromSlash(info.Stream)), d.TempDir, false); err != nil {
				return fmt.Errorf("the dump does not restore: %w", err)
			}
			got, err := Count(ctx, srv, scratch)
			if err != nil {
				return err
			}
			return compareCounts(db+": ", info.Tables, got, info.Exact)
		}()
		if err != nil {
			return fmt.Errorf("database %s: %w", db, err)
		}
	}
	return nil
}

// compareCounts reports tables missing or extra in got, and, when the
// counts were taken in the dump's snapshot (exact), any count that differs.
func compareCounts(prefix string, want, got map[string]int64, exact bool) error {
	var probs []string
	for t, n := range want {
		g, ok := got[t]
		switch {
		case !ok:
			probs = append(probs, fmt.Sprintf("table %s is missing after restore", t))
		case exact && g != n:
			probs = append(probs, fmt.Sprintf("table %s has %d rows after restore, %d at backup time", t, g, n))
		}
	}
	for t := range got {
		if _, ok := want[t]; !ok {
			probs = append(probs, fmt.Sprintf("table %s appears after restore but was not in the backup", t))
		}
	}
	return problems(prefix+"the restore does not match the manifest", probs)
}

func problems(what string, probs []string) error {
	if len(probs) == 0 {
		return nil
	}
	slices.Sort(probs)
	msg := strings.Join(probs[:min(5, len(probs))], "; ")
	if len(probs) > 5 {
		msg += fmt.Sprintf("; and %d more", len(probs)-5)
	}
	return fmt.Errorf("%s (%d problems): %s", what, len(probs), msg)
}

// infoCounts reads a manifest's table -> count map, which JSON decoding
// left as map[string]any of float64.
func infoCounts(v any) (map[string]int64, error) {
	raw, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("the manifest has no row counts (info.tables) to check against")
	}
	out := make(map[string]int64, len(raw))
	for k, x := range raw {
		f, ok := x.(float64)
		if !ok {
			return nil, fmt.Errorf("the manifest's row count of %s is not a number", k)
		}
		out[k] = int64(f)
	}
	return out, nil
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
