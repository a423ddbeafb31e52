package source

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/lib/pq"

	"github.com/backupd/backupd/internal/config"
	"github.com/backupd/backupd/internal/domain"
)

// Postgres dumps PostgreSQL databases with pg_dump in custom format, one
// stream per database ("<db>.pgdump"), and with all: true every database
// that accepts connections plus the roles and tablespaces
// (pg_dumpall --globals-only, stream "globals.sql").
//
// Each database is dumped from a snapshot exported by a transaction we
// hold open (pg_export_snapshot, pg_dump --snapshot), and the rows of
// every table are counted inside that same transaction: the manifest's
// counts are exactly what the dump holds, however busy the server is.
//
// pg_dump runs with -Z0 and the archive's zstd does the compressing: it is
// several times faster than pg_dump's own gzip, and it runs on other cores
// while pg_dump runs (see docs/restore.md).
type Postgres struct {
	name string
	srv  Server
	dbs  []string
	all  bool
}

func newPostgres(name string, cfg config.Source) (*Postgres, error) {
	if len(cfg.Databases) == 0 && !cfg.All {
		return nil, domain.Errorf(domain.EINVALID, "source %s: list databases, or set all: true", name)
	}
	return &Postgres{name: name, srv: ServerOf(cfg), dbs: cfg.Databases, all: cfg.All}, nil
}

// Kind implements Source.
func (p *Postgres) Kind() string { return config.KindPostgres }

// Dump implements Source.
func (p *Postgres) Dump(ctx context.Context, a Archive, env Env) error {
	pgDump, err := LookTool("postgresql-client", "pg_dump")
	if err != nil {
		return err
	}
	dbs := p.dbs
	if p.all {
		if dbs, err = p.listDatabases(ctx); err != nil {
			return err
		}
		pgDumpall, err := LookTool("postgresql-client", "pg_dumpall")
		if err != nil {
			return err
		}
		argv := append([]string{pgDumpall, "--globals-only"}, p.srv.PostgresArgs()...)
		if err := streamTool(ctx, a, "globals.sql", argv, p.srv.PostgresEnv(), nil); err != nil {
			return p.toolErr(err)
		}
		a.SetInfo("globals", "globals.sql")
	}
	infos := make(map[string]DatabaseInfo, len(dbs))
	var skipped []string
	for _, db := range dbs {
		info, err := p.dumpDB(ctx, a, pgDump, db)
		var gone *goneError
		if p.all && errors.As(err, &gone) {
			// Dropped since the list was taken (a dump of everything can
			// take hours): skipped, not a failure. Nothing of it was
			// written. Once its dump has begun, our open transaction in it
			// holds a plain DROP off; DROP ... WITH (FORCE) ends it, and
			// the backup fails.
			skipped = append(skipped, db)
			continue
		}
		if err != nil {
			return fmt.Errorf("database %s: %w", db, err)
		}
		infos[db] = info
	}
	a.SetInfo("databases", infos)
	if len(skipped) > 0 {
		a.SetInfo(SkippedDatabasesKey, skipped)
	}
	return nil
}

// goneError is a database that does not exist (any more), found before
// anything of it was written to the archive.
type goneError struct{ err error }

func (e *goneError) Error() string { return e.err.Error() }
func (e *goneError) Unwrap() error { return e.err }

// dumpDB dumps one database from a snapshot that our own transaction
// exported, and counts its rows in that snapshot while pg_dump runs.
func (p *Postgres) dumpDB(ctx context.Context, a Archive, pgDump, db string) (DatabaseInfo, error) {
	conn, err := sql.Open("postgres", p.srv.PostgresDSN(db))
	if err != nil {
		return DatabaseInfo{}, fmt.Errorf("open connection: %w", err)
	}
	defer conn.Close()
	tx, err := conn.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		if pe := (*pq.Error)(nil); errors.As(err, &pe) && pe.Code == "3D000" { // invalid_catalog_name
			return DatabaseInfo{}, &goneError{p.connErr(err, db)}
		}
		return DatabaseInfo{}, p.connErr(err, db)
	}
	defer tx.Rollback()
	var snapshot string
	if err := tx.QueryRowContext(ctx, "SELECT pg_export_snapshot()").Scan(&snapshot); err != nil {
		return DatabaseInfo{}, fmt.Errorf("export snapshot: %w", err)
	}
	type counted struct {
		tables map[string]int64
		err    error
	}
	countCtx, stopCount := context.WithCancel(ctx)
	defer stopCount()
	done := make(chan counted, 1)
	go func() {
		t, err := CountPostgres(countCtx, tx)
		done <- counted{t, err}
	}()
	info := DatabaseInfo{Stream: url.PathEscape(db) + ".pgdump", Exact: true}
	argv := append([]string{pgDump, "-Fc", "-Z0", "--snapshot=" + snapshot, "-d", db}, p.srv.PostgresArgs()...)
	dumpErr := streamTool(ctx, a, info.Stream, argv, p.srv.PostgresEnv(), nil)
	if dumpErr != nil {
		stopCount() // no use counting for a failed dump
	}
	c := <-done // the snapshot must outlive pg_dump's import of it
	if dumpErr != nil {
		return info, p.toolErr(dumpErr)
	}
	if c.err != nil {
		return info, fmt.Errorf("count rows: %w", c.err)
	}
	info.Tables = c.tables
	return info, tx.Commit()
}

// listDatabases names every database a dump of all should hold.
func (p *Postgres) listDatabases(ctx context.Context) ([]string, error) {
	conn, err := sql.Open("postgres", p.srv.PostgresDSN("postgres"))
	if err != nil {
		return nil, fmt.Errorf("open connection: %w", err)
	}
	defer conn.Close()
	rows, err := conn.QueryContext(ctx, `SELECT datname FROM pg_database
		WHERE datallowconn AND NOT datistemplate ORDER BY datname`)
	if err != nil {
		return nil, p.connErr(err, "postgres")
	}
	return ScanStrings(rows)
}

// connErr explains a failed connection in terms of the source's config.
func (p *Postgres) connErr(err error, db string) error {
	var pe *pq.Error
	if errors.As(err, &pe) {
		switch pe.Code {
		case "28P01", "28000":
			return domain.Errorf(domain.EUNAVAILABLE, "PostgreSQL at %s refused user %q: %s; check sources.%s.user/password", p.srv.Addr(), p.srv.User, pe.Message, p.name)
		case "3D000":
			return domain.Errorf(domain.ENOTFOUND, "database %q does not exist on %s: check sources.%s.databases", db, p.srv.Addr(), p.name)
		}
	}
	return p.srv.ConnError(err, "sources."+p.name+".")
}

var versionMismatchRE = regexp.MustCompile(`server version: ([^;]+); pg_dump version: (.+)`)

// toolErr turns pg_dump's usual failures into what to do about them.
func (p *Postgres) toolErr(err error) error {
	var te *toolError
	if !errors.As(err, &te) {
		return err
	}
	switch {
	case strings.Contains(te.stderr, "server version mismatch"):
		if m := versionMismatchRE.FindStringSubmatch(te.stderr); m != nil {
			return domain.Errorf(domain.EUNAVAILABLE, "pg_dump %s cannot dump PostgreSQL %s: install a postgresql-client of version %s or newer", strings.TrimSpace(m[2]), strings.TrimSpace(m[1]), strings.TrimSpace(m[1]))
		}
		return domain.Errorf(domain.EUNAVAILABLE, "pg_dump is older than the server (%s): install a postgresql-client as new as the server", te.stderr)
	case strings.Contains(te.stderr, "Connection refused"):
		return domain.Errorf(domain.EUNAVAILABLE, "connection refused at %s: is PostgreSQL running? check sources.%s.host/port", p.srv.Addr(), p.name)
	case strings.Contains(te.stderr, "authentication failed"), strings.Contains(te.stderr, "no password supplied"):
		return domain.Errorf(domain.EUNAVAILABLE, "%s; check sources.%s.user/password", te.Error(), p.name)
	}
	return err
}

// CountPostgres counts the rows of every ordinary table of the current
// database outside the system schemas and extensions, keyed
// "schema.table". ONLY keeps a parent's count to its own rows, as pg_dump
// dumps each table's rows separately.
func CountPostgres(ctx context.Context, q Querier) (map[string]int64, error) {
	rows, err := q.QueryContext(ctx, `SELECT n.nspname, c.relname FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind = 'r' AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\_%'
		AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
			AND d.objid = c.oid AND d.deptype = 'e')
		ORDER BY 1, 2`)
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	var names [][2]string
	for rows.Next() {
		var s, t string
		if err := rows.Scan(&s, &t); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list tables: %w", err)
		}
		names = append(names, [2]string{s, t})
	}
	if err := rows.Close(); err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	counts := make(map[string]int64, len(names))
	for _, n := range names {
		var c int64
		qi := pq.QuoteIdentifier(n[0]) + "." + pq.QuoteIdentifier(n[1])
		if err := q.QueryRowContext(ctx, "SELECT count(*) FROM ONLY "+qi).Scan(&c); err != nil {
			return nil, fmt.Errorf("count rows of %s: %w", qi, err)
		}
		counts[n[0]+"."+n[1]] = c
	}
	return counts, nil
}
