// Package httpapi is backupd's HTTP surface: the REST API under /api/v1,
// the WebSocket endpoint, health, metrics and the embedded dashboard. Every
// error response is application/problem+json (RFC 9457).
package httpapi

import (
	"context"
	"crypto/rand"
	"io/fs"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/backupd/backupd/internal/domain"
	"github.com/backupd/backupd/internal/repository"
	"github.com/backupd/backupd/internal/storage"
)

// Runner starts and cancels backups.
type Runner interface {
	Submit(ctx context.Context, source string) (domain.Backup, error)
	Cancel(ctx context.Context, id int64) (domain.Backup, error)
	BytesDone(id int64) (int64, bool)
	// Schedule is where source's schedule stands (its previous and next
	// ticks); false for a source without one.
	Schedule(source string) (domain.Schedule, bool)
}

// Catalog answers questions about backups and events.
type Catalog interface {
	Backup(ctx context.Context, id int64) (domain.Backup, error)
	Backups(ctx context.Context, f domain.BackupFilter) ([]domain.Backup, error)
	ListEvents(ctx context.Context, since int64, limit int) ([]domain.Event, error)
	LatestBySource(ctx context.Context) (map[string]domain.Backup, error)
	// SourceHealth is each source's newest success and failure and its
	// last n finished backups, oldest first.
	SourceHealth(ctx context.Context, sources []string, n int) (map[string]domain.SourceHealth, error)
}

// Verifier runs a restore drill of a backup and records its outcome.
type Verifier interface {
	Verify(ctx context.Context, id int64) (domain.Backup, error)
}

// Archives opens stored archives.
type Archives interface {
	Open(name string) (storage.Object, error)
}

// Repository is the deduplicated repository backups are stored in.
type Repository interface {
	// Export returns backup b's download: a tar.zst (or .tar.zst.age)
	// file, its SHA-256 and size, built on first use.
	Export(ctx context.Context, b domain.Backup) (*repository.Export, error)
	// Tree lists the entries directly inside dir of b's snapshot.
	Tree(ctx context.Context, b domain.Backup, dir string) ([]domain.TreeEntry, error)
	Prune(ctx context.Context) (domain.PruneResult, error)
	Check(ctx context.Context, readData bool) (domain.CheckResult, error)
}

// Config is what a Server is built from.
type Config struct {
	Runner   Runner
	Catalog  Catalog
	Archives Archives
	// Repository holds the backups made since the repository; nil when
	// there is none (tests of archives alone).
	Repository Repository
	// Verifier runs restore drills; nil turns the verify endpoint off.
	Verifier Verifier
	// Sources describes the configured sources, in display order.
	Sources []domain.SourceInfo
	// Hub serves the WebSocket endpoint.
	Hub http.Handler
	// Web is the dashboard's files, served at /.
	Web fs.FS
	// Tokens are the bearer tokens and their scopes; none lets every
	// request through (on loopback, for names in AllowedHosts only).
	Tokens []Token
	// AllowedHosts are Host names (or name:port) served besides loopback
	// ones when no tokens are configured.
	AllowedHosts []string
	// TrustedOrigins are origins (scheme://host[:port]) whose pages may
	// send state-changing requests besides the daemon's own.
	TrustedOrigins []string
	Version        string
	Logger         *slog.Logger
	// Checks are what GET /healthz asks about (health.go).
	Checks []HealthCheck
	// ReloadConfig reads the config again and applies it (POST
	// /admin/reload); nil leaves the route out. A refused config is an
	// EINVALID error.
	ReloadConfig func(ctx context.Context) (domain.ReloadResult, error)
	// Extra registers more routes on the /api/v1 router: on open, those
	// authenticated otherwise (signed webhooks); on scoped(scope), those
	// behind a bearer token with that scope.
	Extra func(open chi.Router, scoped func(scope string) chi.Router)
}

// Server holds the handlers' dependencies.
type Server struct {
	Config
	// tokens and sources are what a config reload replaces (Reload).
	tokens  atomic.Pointer[tokenSet]
	sources atomic.Pointer[[]domain.SourceInfo]
	log     *slog.Logger
	linkKey []byte           // signs download links; new at every start
	now     func() time.Time // the clock links expire by
	health  *health
}

// New returns a Server.
func New(c Config) *Server {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key) // crypto/rand.Read does not fail (Go 1.24 and later)
	log := c.Logger.With("component", "http")
	s := &Server{Config: c, log: log, linkKey: key, now: time.Now,
		health: &health{checks: c.Checks, now: time.Now, timeout: healthTimeout, log: log}}
	s.Reload(c.Tokens, c.Sources)
	return s
}

// Reload replaces the tokens and the sources listed, for a config reload:
// requests already past their token check finish as they began, the next
// ones see the new set. Handler need not be called again.
func (s *Server) Reload(tokens []Token, sources []domain.SourceInfo) {
	ts := newTokenSet(tokens)
	s.tokens.Store(&ts)
	src := append([]domain.SourceInfo(nil), sources...)
	s.sources.Store(&src)
}

// tokenSet returns the tokens in force.
func (s *Server) tokenSet() *tokenSet { return s.tokens.Load() }

// sourceList returns the configured sources, in display order.
func (s *Server) sourceList() []domain.SourceInfo { return *s.sources.Load() }

// Handler returns the router with every route registered. Every request
// is judged here, before any handler: security headers, Host, cross-site
// requests; then per route the token and its scope, and JSON bodies.
func (s *Server) Handler() http.Handler {
	r := chi.NewRouter()
	r.Use(middleware.Recoverer, withSecurityHeaders, s.checkHost, s.crossOrigin(), middleware.GetHead)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		WriteError(w, r, s.log, domain.Errorf(domain.ENOTFOUND, "no such endpoint: %s %s", r.Method, r.URL.Path))
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		WriteError(w, r, s.log, domain.Errorf(domain.EMETHOD, "method %s is not allowed on %s", r.Method, r.URL.Path))
	})
	r.Get("/healthz", s.handleHealth)
	// GET only, like every route, so that the OpenAPI document can say
	// what each method does (a WebSocket upgrade is a GET too).
	r.With(s.require(domain.ScopeRead, false)).Method(http.MethodGet, "/metrics", promhttp.Handler())
	r.Route("/api/v1", func(r chi.Router) {
		r.NotFound(func(w http.ResponseWriter, r *http.Request) {
			WriteError(w, r, s.log, domain.Errorf(domain.ENOTFOUND, "no such endpoint: %s %s", r.Method, r.URL.Path))
		})
		if s.Hub != nil {
			r.With(s.require(domain.ScopeRead, true)).Method(http.MethodGet, "/ws", s.Hub)
		}
		// The API's description is open (openapi.go says why).
		r.Get("/openapi.json", handleOpenAPI)
		// A download link (link.go) stands in for the token here only.
		r.With(s.requireTokenOrLink).Get("/backups/{id}/archive", s.handleArchiveDownload)
		scoped := func(scope string) chi.Router { return r.With(s.require(scope, false), s.requireJSON) }
		scoped("").Get("/auth", s.handleAuth)
		s.routesSources(scoped)
		s.routesBackups(scoped)
		s.routesRepository(scoped)
		s.routesEvents(scoped)
		if s.ReloadConfig != nil {
			scoped(domain.ScopeAdmin).Post("/admin/reload", s.handleAdminReload)
		}
		// webhook routes: registered through Config.Extra by cmd/backupd,
		// which owns the webhook intake.
		if s.Extra != nil {
			s.Extra(r, scoped)
		}
	})
	if s.Web != nil {
		r.Handle("/*", http.FileServerFS(s.Web))
	}
	return r
}

// handleAuth answers GET /auth with what the caller's token may do, for
// the dashboard to hide what it may not: {"name", "scopes", "required"}.
func (s *Server) handleAuth(w http.ResponseWriter, r *http.Request) {
	if len(s.tokenSet().tokens) == 0 {
		WriteJSON(w, http.StatusOK, map[string]any{"name": "", "scopes": []string{domain.ScopeAdmin}, "required": false})
		return
	}
	t := r.Context().Value(tokenKey{}).(*Token)
	WriteJSON(w, http.StatusOK, map[string]any{"name": t.Name, "scopes": t.Scopes, "required": true})
}

// handleAdminReload reloads the config: 200 with what was applied and
// what needs a restart, or 400 naming what is wrong with the new config,
// which is then not applied.
func (s *Server) handleAdminReload(w http.ResponseWriter, r *http.Request) {
	res, err := s.ReloadConfig(r.Context())
	if err != nil {
		WriteError(w, r, s.log, err)
		return
	}
	WriteJSON(w, http.StatusOK, res)
}
