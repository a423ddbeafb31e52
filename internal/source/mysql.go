package source

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os/exec"
	"strings"

	"github.com/go-sql-driver/mysql"

	"github.com/backupd/backupd/internal/config"
	"github.com/backupd/backupd/internal/domain"
)

// MySQL dumps MariaDB and MySQL databases with mariadb-dump (or
// mysqldump), one stream of SQL per database ("<db>.sql"), without
// CREATE DATABASE or USE, so a dump can be restored into any database.
// With all: true it dumps every database but the server's own
// information_schema, performance_schema and sys.
//
// --single-transaction makes each dump one consistent InnoDB snapshot while
// writes go on. The row counts a restore drill checks are counted from the
// dump itself as it streams past (rowCounter), so they are exactly what the
// archive holds, and taking them costs the server nothing (docs/restore.md).
type MySQL struct {
	name string
	srv  Server
	dbs  []string
	all  bool
}

func newMySQL(name string, cfg config.Source) (*MySQL, error) {
	if len(cfg.Databases) == 0 && !cfg.All {
		return nil, domain.Errorf(domain.EINVALID, "source %s: list databases, or set all: true", name)
	}
	return &MySQL{name: name, srv: ServerOf(cfg), dbs: cfg.Databases, all: cfg.All}, nil
}

// Kind implements Source.
func (m *MySQL) Kind() string { return config.KindMySQL }

// MySQLDumpFlags are the dump options besides the connection: a consistent
// snapshot, everything that is not a table (routines, triggers, events),
// and binary and text data that survive the round trip byte for byte.
var MySQLDumpFlags = []string{"--single-transaction", "--quick", "--routines", "--triggers", "--events",
	"--hex-blob", "--default-character-set=utf8mb4", "--no-tablespaces"}

// Dump implements Source.
func (m *MySQL) Dump(ctx context.Context, a Archive, env Env) error {
	tool, err := LookTool("mariadb-client (or mysql-client)", "mariadb-dump", "mysqldump")
	if err != nil {
		return err
	}
	flags := append([]string(nil), MySQLDumpFlags...)
	if out, _ := exec.CommandContext(ctx, tool, "--version").Output(); !strings.Contains(string(out), "MariaDB") {
		// MySQL's own mysqldump writes GTID statements that fail to load
		// into a server with other GTIDs, such as a drill's.
		flags = append(flags, "--set-gtid-purged=OFF")
	}
	conn, err := sql.Open("mysql", m.srv.MySQLDSN(""))
	if err != nil {
		return fmt.Errorf("open connection: %w", err)
	}
	defer conn.Close()
	if err := conn.PingContext(ctx); err != nil {
		return m.connErr(err, "")
	}
	dbs := m.dbs
	if m.all {
		if dbs, err = listMySQLDatabases(ctx, conn); err != nil {
			return err
		}
	}
	defaults, cleanup, err := m.srv.MySQLDefaults(env.TempDir)
	if err != nil {
		return err
	}
	defer cleanup()
	infos := make(map[string]DatabaseInfo, len(dbs))
	var skipped []string
	for _, db := range dbs {
		if m.all {
			// A dump of everything can take hours: a database dropped
			// since the list was taken is skipped, not a failure. Once
			// mariadb-dump has begun, its transaction's metadata lock holds
			// a DROP off until it is done.
			var one int
			err := conn.QueryRowContext(ctx, `SELECT 1 FROM information_schema.schemata WHERE schema_name = ?`, db).Scan(&one)
			if errors.Is(err, sql.ErrNoRows) {
				skipped = append(skipped, db)
				continue
			}
			if err != nil {
				return fmt.Errorf("database %s: check it still exists: %w", db, err)
			}
		}
		argv := append([]string{tool, "--defaults-extra-file=" + defaults}, flags...)
		info, err := m.dumpDB(ctx, a, append(argv, db), db)
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

// dumpDB streams one database's dump into the archive, counting its rows
// on the way.
func (m *MySQL) dumpDB(ctx context.Context, a Archive, argv []string, db string) (DatabaseInfo, error) {
	info := DatabaseInfo{Stream: url.PathEscape(db) + ".sql", Exact: true}
	counter := newRowCounter()
	wrap := func(r io.Reader) io.Reader { return io.TeeReader(r, counter) }
	if err := streamTool(ctx, a, info.Stream, argv, nil, wrap); err != nil {
		return info, m.toolErr(err, db)
	}
	info.Tables = counter.Tables()
	return info, nil
}

func listMySQLDatabases(ctx context.Context, conn *sql.DB) ([]string, error) {
	rows, err := conn.QueryContext(ctx, `SELECT schema_name FROM information_schema.schemata
		WHERE schema_name NOT IN ('information_schema', 'performance_schema', 'sys') ORDER BY schema_name`)
	if err != nil {
		return nil, fmt.Errorf("list databases: %w", err)
	}
	return ScanStrings(rows)
}

// CountMySQL counts the rows of every base table of database db. Views
// and sequences are not counted: they hold no rows of their own.
func CountMySQL(ctx context.Context, q Querier, db string) (map[string]int64, error) {
	rows, err := q.QueryContext(ctx, `SELECT table_name FROM information_schema.tables
		WHERE table_schema = ? AND table_type IN ('BASE TABLE', 'SYSTEM VERSIONED') ORDER BY table_name`, db)
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	names, err := ScanStrings(rows)
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	counts := make(map[string]int64, len(names))
	for _, t := range names {
		var n int64
		if err := q.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+QuoteMySQL(db)+"."+QuoteMySQL(t)).Scan(&n); err != nil {
			return nil, fmt.Errorf("count rows of %s: %w", t, err)
		}
		counts[t] = n
	}
	return counts, nil
}

// QuoteMySQL quotes an identifier with backquotes.
func QuoteMySQL(name string) string { return "`" + strings.ReplaceAll(name, "`", "``") + "`" }

func (m *MySQL) connErr(err error, db string) error {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case 1045, 1044:
			return domain.Errorf(domain.EUNAVAILABLE, "MariaDB/MySQL at %s refused user %q: %s; check sources.%s.user/password", m.srv.Addr(), m.srv.User, me.Message, m.name)
		case 1049:
			return domain.Errorf(domain.ENOTFOUND, "database %q does not exist on %s: check sources.%s.databases", db, m.srv.Addr(), m.name)
		}
	}
	return m.srv.ConnError(err, "sources."+m.name+".")
}

// toolErr turns the dump tool's usual failures into what to do about them.
func (m *MySQL) toolErr(err error, db string) error {
	var te *toolError
	if !errors.As(err, &te) {
		return err
	}
	switch {
	case strings.Contains(te.stderr, "(111"), strings.Contains(te.stderr, "Connection refused"):
		return domain.Errorf(domain.EUNAVAILABLE, "connection refused at %s: is MariaDB/MySQL running? check sources.%s.host/port", m.srv.Addr(), m.name)
	case strings.Contains(te.stderr, "Access denied"):
		return domain.Errorf(domain.EUNAVAILABLE, "%s; check sources.%s.user/password and the user's privileges (SELECT, SHOW VIEW, TRIGGER, EVENT)", te.Error(), m.name)
	case strings.Contains(te.stderr, "Unknown database"):
		return domain.Errorf(domain.ENOTFOUND, "database %q does not exist on %s: check sources.%s.databases", db, m.srv.Addr(), m.name)
	}
	return err
}
