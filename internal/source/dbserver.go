package source

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/backupd/backupd/internal/config"
	"github.com/backupd/backupd/internal/domain"
)

// Server is how to reach a database server: the connection part of a
// postgres or mysql source, shared by the dumpers, the restore drill and
// `backupctl restore --to-dsn`.
type Server struct {
	Kind     string // config.KindPostgres or config.KindMySQL
	Host     string
	Port     int
	User     string
	Password string
}

// ServerOf returns the server of a database source, with the engines'
// usual defaults for what the config leaves out.
func ServerOf(cfg config.Source) Server {
	s := Server{Kind: cfg.Kind, Host: cfg.Host, Port: cfg.Port, User: cfg.User, Password: cfg.Password}
	if s.Host == "" {
		s.Host = "127.0.0.1"
	}
	switch {
	case s.Port == 0 && s.Kind == config.KindPostgres:
		s.Port = 5432
	case s.Port == 0:
		s.Port = 3306
	}
	switch {
	case s.User == "" && s.Kind == config.KindPostgres:
		s.User = "postgres"
	case s.User == "":
		s.User = "root"
	}
	return s
}

// ParseDSN reads postgres://user:pass@host:port/db or
// mysql://user:pass@host:port/db into a Server and a database name.
func ParseDSN(dsn string) (Server, string, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return Server{}, "", domain.Errorf(domain.EINVALID, "DSN %q is not a URL like postgres://user@host:5432/db", dsn)
	}
	var cfg config.Source
	switch u.Scheme {
	case "postgres", "postgresql":
		cfg.Kind = config.KindPostgres
	case "mysql", "mariadb":
		cfg.Kind = config.KindMySQL
	default:
		return Server{}, "", domain.Errorf(domain.EINVALID, "DSN scheme %q is not postgres:// or mysql://", u.Scheme)
	}
	cfg.Host = u.Hostname()
	if p := u.Port(); p != "" {
		if cfg.Port, err = strconv.Atoi(p); err != nil {
			return Server{}, "", domain.Errorf(domain.EINVALID, "DSN port %q is not a number", p)
		}
	}
	if u.User != nil {
		cfg.User = u.User.Username()
		cfg.Password, _ = u.User.Password()
	}
	db := strings.TrimPrefix(u.Path, "/")
	if db == "" || strings.Contains(db, "/") {
		return Server{}, "", domain.Errorf(domain.EINVALID, "DSN %s names no database: add /DBNAME at the end", u.Redacted())
	}
	return ServerOf(cfg), db, nil
}

// Addr is host:port.
func (s Server) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// PostgresDSN is a lib/pq connection string for database db.
func (s Server) PostgresDSN(db string) string {
	q := func(v string) string { return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'" }
	dsn := fmt.Sprintf("host=%s port=%d user=%s dbname=%s sslmode=prefer connect_timeout=10",
		q(s.Host), s.Port, q(s.User), q(db))
	if s.Password != "" {
		dsn += " password=" + q(s.Password)
	}
	return dsn
}

// PostgresArgs are the connection flags of the PostgreSQL client tools.
// The password is never among them: see PostgresEnv.
func (s Server) PostgresArgs() []string {
	return []string{"-h", s.Host, "-p", strconv.Itoa(s.Port), "-U", s.User, "--no-password"}
}

// PostgresEnv is the client tools' environment: the password goes in
// PGPASSWORD, which only the same user (or root) can read, unlike argv,
// which anyone sees in ps.
func (s Server) PostgresEnv() []string {
	env := os.Environ()
	if s.Password != "" {
		env = append(env, "PGPASSWORD="+s.Password)
	}
	return env
}

// MySQLDSN is a go-sql-driver/mysql DSN for database db ("" for none).
func (s Server) MySQLDSN(db string) string {
	return fmt.Sprintf("%s:%s@tcp(%s)/%s?timeout=10s&charset=utf8mb4", url.PathEscape(s.User), url.PathEscape(s.Password), s.Addr(), db)
}

// MySQLDefaults writes the credentials to a 0600 option file in dir for
// --defaults-extra-file, so the password is on neither argv nor in the
// environment. The caller runs cleanup when the tool has exited.
func (s Server) MySQLDefaults(dir string) (path string, cleanup func(), err error) {
	f, err := os.CreateTemp(dir, "my-*.cnf") // CreateTemp makes it 0600
	if err != nil {
		return "", nil, fmt.Errorf("create MySQL option file: %w", err)
	}
	esc := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	_, err = fmt.Fprintf(f, "[client]\nuser=\"%s\"\npassword=\"%s\"\nhost=\"%s\"\nport=%d\nprotocol=TCP\n",
		esc.Replace(s.User), esc.Replace(s.Password), esc.Replace(s.Host), s.Port)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", nil, fmt.Errorf("write MySQL option file: %w", err)
	}
	p, _ := filepath.Abs(f.Name())
	return p, func() { os.Remove(p) }, nil
}

// ConnError turns a failure to reach the server into a message that says
// what to check; what prefixes the setting's name: "sources.db." or
// "the DSN's ".
func (s Server) ConnError(err error, what string) error {
	engine := "PostgreSQL"
	if s.Kind == config.KindMySQL {
		engine = "MariaDB/MySQL"
	}
	var dnsErr *net.DNSError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return domain.Errorf(domain.EUNAVAILABLE, "connection refused at %s: is %s running? check %shost/port", s.Addr(), engine, what)
	case errors.As(err, &dnsErr):
		return domain.Errorf(domain.EUNAVAILABLE, "cannot resolve host %q: check %shost", s.Host, what)
	case isTimeout(err):
		return domain.Errorf(domain.EUNAVAILABLE, "timed out connecting to %s: is %s reachable? check %shost/port and firewalls", s.Addr(), engine, what)
	}
	return fmt.Errorf("connect to %s at %s: %w", engine, s.Addr(), err)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// LookTool finds the first of names in PATH, or says which package to
// install.
func LookTool(pkg string, names ...string) (string, error) {
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p, nil
		}
	}
	return "", domain.Errorf(domain.EUNAVAILABLE, "%s not found in PATH: install %s", strings.Join(names, " or "), pkg)
}
