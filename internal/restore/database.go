// Package restore puts backups back: database dumps into a live server
// (for `backupctl restore --to-dsn`) and the restore drill, which restores
// an archive into scratch space, checks it against the manifest and
// records the outcome on the backup.
package restore

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	_ "github.com/go-sql-driver/mysql" // registers "mysql"
	"github.com/lib/pq"

	"github.com/backupd/backupd/internal/config"
	"github.com/backupd/backupd/internal/domain"
	"github.com/backupd/backupd/internal/source"
)

// Database loads the dump file into database db on srv with the engine's
// own client: pg_restore for a custom-format PostgreSQL dump, mariadb (or
// mysql) for an SQL dump. clean drops objects the dump recreates first
// (pg_restore --clean; the SQL dumps always DROP TABLE IF EXISTS).
// tempDir holds the MySQL option file for the moment of the restore.
func Database(ctx context.Context, srv source.Server, db, dump, tempDir string, clean bool) error {
	f, err := os.Open(dump)
	if err != nil {
		return fmt.Errorf("open dump: %w", err)
	}
	defer f.Close()
	return DatabaseFrom(ctx, srv, db, f, tempDir, clean)
}

// DatabaseFrom is Database with the dump read from r, which goes to the
// tool's stdin: a dump streamed from the repository needs no temporary
// file. (pg_restore reads a custom-format dump from stdin in order.)
func DatabaseFrom(ctx context.Context, srv source.Server, db string, r io.Reader, tempDir string, clean bool) error {
	switch srv.Kind {
	case config.KindPostgres:
		tool, err := source.LookTool("postgresql-client", "pg_restore")
		if err != nil {
			return err
		}
		argv := append([]string{tool, "--no-owner", "--no-privileges", "--exit-on-error", "-d", db}, srv.PostgresArgs()...)
		if clean {
			argv = append(argv, "--clean", "--if-exists")
		}
		return runTool(ctx, argv, srv.PostgresEnv(), r)
	case config.KindMySQL:
		tool, err := source.LookTool("mariadb-client (or mysql-client)", "mariadb", "mysql")
		if err != nil {
			return err
		}
		defaults, cleanup, err := srv.MySQLDefaults(tempDir)
		if err != nil {
			return err
		}
		defer cleanup()
		argv := []string{tool, "--defaults-extra-file=" + defaults, "--binary-mode", "--default-character-set=utf8mb4", db}
		return runTool(ctx, argv, nil, r)
	}
	return domain.Errorf(domain.EINVALID, "%q is not a database kind (postgres or mysql)", srv.Kind)
}

// open connects to db on srv ("" for the server's default database).
func open(ctx context.Context, srv source.Server, db string) (*sql.DB, error) {
	var conn *sql.DB
	var err error
	if srv.Kind == config.KindPostgres {
		if db == "" {
			db = "postgres"
		}
		conn, err = sql.Open("postgres", srv.PostgresDSN(db))
	} else {
		conn, err = sql.Open("mysql", srv.MySQLDSN(db))
	}
	if err != nil {
		return nil, fmt.Errorf("open connection: %w", err)
	}
	if err := conn.PingContext(ctx); err != nil {
		conn.Close()
		return nil, srv.ConnError(err, "the connection's ")
	}
	return conn, nil
}

// CreateDatabase creates an empty database. A PostgreSQL one is a copy of
// template0, as pg_restore expects: template1 may hold objects the dump
// would collide with.
func CreateDatabase(ctx context.Context, srv source.Server, db string) error {
	conn, err := open(ctx, srv, "")
	if err != nil {
		return err
	}
	defer conn.Close()
	q := "CREATE DATABASE " + source.QuoteMySQL(db) + " CHARACTER SET utf8mb4"
	if srv.Kind == config.KindPostgres {
		q = "CREATE DATABASE " + pq.QuoteIdentifier(db) + " TEMPLATE template0 ENCODING 'UTF8'"
	}
	if _, err := conn.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("create database %s: %w", db, err)
	}
	return nil
}

// DropDatabase drops db if it exists, closing its connections first.
func DropDatabase(ctx context.Context, srv source.Server, db string) error {
	conn, err := open(ctx, srv, "")
	if err != nil {
		return err
	}
	defer conn.Close()
	q := "DROP DATABASE IF EXISTS " + source.QuoteMySQL(db)
	if srv.Kind == config.KindPostgres {
		q = "DROP DATABASE IF EXISTS " + pq.QuoteIdentifier(db) + " WITH (FORCE)"
	}
	if _, err := conn.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("drop database %s: %w", db, err)
	}
	return nil
}

// Count counts the rows of every table of db, as the dumpers do.
func Count(ctx context.Context, srv source.Server, db string) (map[string]int64, error) {
	conn, err := open(ctx, srv, db)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if srv.Kind == config.KindPostgres {
		return source.CountPostgres(ctx, conn)
	}
	return source.CountMySQL(ctx, conn, db)
}

// Objects counts what db holds besides the system's own: tables, views,
// sequences and routines. Zero means a restore into it clobbers nothing.
func Objects(ctx context.Context, srv source.Server, db string) (int64, error) {
	conn, err := open(ctx, srv, db)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	q := `SELECT (SELECT count(*) FROM information_schema.tables WHERE table_schema = ?)
		+ (SELECT count(*) FROM information_schema.routines WHERE routine_schema = ?)`
	args := []any{db, db}
	if srv.Kind == config.KindPostgres {
		q = `SELECT (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\_%' AND c.relkind IN ('r','p','v','m','S','f'))
		+ (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
			WHERE n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\_%')`
		args = nil
	}
	var n int64
	if err := conn.QueryRowContext(ctx, q, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("look into database %s: %w", db, err)
	}
	return n, nil
}

// runTool runs a restore client and, if it fails, returns the end of what
// it said on stderr.
func runTool(ctx context.Context, argv, env []string, stdin io.Reader) error {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Stdin = stdin
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	msg := strings.TrimSpace(stderr.String())
	if len(msg) > 2000 {
		msg = "..." + msg[len(msg)-2000:]
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return fmt.Errorf("%s failed (%s): %s", filepath.Base(argv[0]), ee.ProcessState, msg)
	}
	return fmt.Errorf("run %s: %w", filepath.Base(argv[0]), err)
}
