package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"filippo.io/age"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/backupd/backupd/internal/catalog"
	"github.com/backupd/backupd/internal/config"
	"github.com/backupd/backupd/internal/domain"
	"github.com/backupd/backupd/internal/httpapi"
	"github.com/backupd/backupd/internal/hub"
	"github.com/backupd/backupd/internal/lockfile"
	"github.com/backupd/backupd/internal/repo"
	"github.com/backupd/backupd/internal/repository"
	"github.com/backupd/backupd/internal/runner"
	"github.com/backupd/backupd/internal/storage"
	"github.com/backupd/backupd/internal/webhook"
	"github.com/backupd/backupd/migrations"
	"github.com/backupd/backupd/web"
)

// newServeCmd is the serve command; hup carries SIGHUP, which reloads the
// TLS certificate.
func newServeCmd(hup <-chan os.Signal) *cobra.Command {
	var flags configFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the daemon",
		Long: `Run the daemon. With no config file it listens on 127.0.0.1:8080, keeps its
data under ./backupd-data and offers one source, "catalog": its own catalog.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := flags.load()
			if err != nil {
				return err
			}
			return serve(cmd.Context(), cfg, flags.load, newLogger(cfg.Log, os.Stderr), hup)
		},
	}
	flags.register(cmd, true)
	return cmd
}

// serve runs the daemon until ctx ends (SIGINT/SIGTERM); each value on
// hup (SIGHUP) reloads the TLS certificate and the config, read again
// with load (reload.go). Everything that can fail on a
// bad config, a bad certificate or a taken port fails before any work
// starts. The deferred closes then run the other way round: webhooks, the
// event path, the catalog.
func serve(ctx context.Context, cfg config.Config, load func() (config.Config, error), log *slog.Logger, hup <-chan os.Signal) error {
	c, err := check(cfg, log)
	if err != nil {
		return err
	}
	specs, recipients, identities, certs := c.specs, c.recipients, c.identities, c.certs
	// Before anything in data_dir is touched: a second daemon on it would
	// take the first one's running backups for crashed ones.
	lock, err := lockfile.Acquire(cfg.DataDir)
	if err != nil {
		return err
	}
	defer lock.Release()
	if c.listenWarning != "" {
		log.Warn(c.listenWarning)
	}
	for _, w := range c.preflight {
		log.Warn("a source would fail if it ran now", "problem", w)
	}
	tmp := filepath.Join(cfg.DataDir, "tmp")
	if err := os.RemoveAll(tmp); err != nil { // scratch left by a crash
		return fmt.Errorf("clean temp dir: %w", err)
	}
	if err := os.MkdirAll(tmp, 0o750); err != nil {
		return fmt.Errorf("create temp dir: %w", err)
	}
	db, err := catalog.Open(ctx, cfg.CatalogPath(), migrations.FS)
	if err != nil {
		return err
	}
	defer db.Close()
	// The collector knows every configured source, so that one that never
	// succeeded has a last-success time (0) for staleness alerts to see.
	rl := &reloader{load: load}
	names := specNames(specs)
	rl.names.Store(&names)
	catalogMetrics := catalog.Collector{DB: db, Sources: rl.sourceNames}
	if err := prometheus.Register(catalogMetrics); err != nil {
		return fmt.Errorf("register catalog metrics: %w", err)
	}
	defer prometheus.Unregister(catalogMetrics)
	store, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	repos, err := openRepository(ctx, cfg, db, recipients, identities, log)
	if err != nil {
		return err
	}
	defer repos.Close()

	d := &daemon{cfg: cfg, log: log, db: db, certs: certs, reload: rl}
	rl.d = d
	d.hub = hub.New(db, hub.Options{
		QueueSize: cfg.WebSocket.QueueSize, QueueBytes: cfg.WebSocket.QueueBytes, TotalBytes: cfg.WebSocket.TotalBytes, AllowedOrigins: cfg.WebSocket.AllowedOrigins, Logger: log,
	})
	recv, disp, closeWebhooks, err := openWebhooks(ctx, cfg, db, log)
	if err != nil {
		return err
	}
	defer closeWebhooks()
	// Listen before any work starts: a taken port must fail the start
	// before crash recovery or a scheduled backup has touched anything.
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	defer ln.Close()

	stopWatch, err := d.watch(ctx)
	if err != nil {
		return err
	}
	defer stopWatch()
	drill := newDrill(cfg, db, store, repos, tmp, identities, log)
	d.run = runner.New(db, store, specs, runner.Options{
		Workers: cfg.Workers, Compression: cfg.Compression, Recipients: recipients, Repository: repos, Version: version,
		TempDir: tmp, Logger: log, AfterSuccess: verifyAfterSuccess(cfg, drill, log), OnProgress: d.hub.Broadcast,
	})
	if err := d.run.Open(ctx); err != nil {
		return err
	}
	stopSchedules, err := d.run.StartSchedules(ctx, schedulesOf(cfg))
	if err != nil {
		d.run.Shutdown(0)
		return err
	}
	api := httpapi.New(httpapi.Config{
		Runner: d.run, Catalog: db, Archives: store, Repository: repos, Verifier: drill, Sources: sourceInfos(cfg, specs),
		Hub: d.hub, Extra: httpapi.WebhookRoutes(recv, db, disp, log),
		Checks: []httpapi.HealthCheck{{Name: "catalog", Check: db.Check}, {Name: "archives", Check: store.Check}}, Web: web.FS(), Tokens: apiTokens(cfg.Auth), AllowedHosts: allowedHosts(cfg),
		TrustedOrigins: cfg.WebSocket.AllowedOrigins, Version: version, Logger: log,
		ReloadConfig: func(ctx context.Context) (domain.ReloadResult, error) { return rl.reload(ctx, "API") },
	})
	rl.api, rl.recv, rl.disp = api, recv, disp
	srv := &http.Server{
		Handler:           api.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		// net/http's own complaints (with TLS, mostly failed handshakes:
		// a client that does not trust the certificate, or speaks plain
		// HTTP) go to the daemon's log in its format, not to stderr raw.
		ErrorLog: slog.NewLogLogger(log.With("component", "http").Handler(), slog.LevelWarn),
	}
	attrs := []any{"addr", ln.Addr().String(), "tls", certs != nil, "data_dir", cfg.DataDir, "archives", store.Where(),
		"repository", repos.Where(), "sources", len(specs), "version", version}
	if certs != nil {
		attrs = append(attrs, certs.attrs()...)
	}
	log.Info("backupd serving", attrs...)
	return d.serveUntil(ctx, srv, ln, hup, stopSchedules)
}

// serveUntil serves HTTP (or HTTPS) until ctx ends or the server fails,
// reloading the certificate on each SIGHUP, then stops schedules, new
// work, running backups (within the grace period), HTTP and the WebSocket
// sessions, in that order.
func (d *daemon) serveUntil(ctx context.Context, srv *http.Server, ln net.Listener, hup <-chan os.Signal, stopSchedules func()) error {
	errc := make(chan error, 1)
	if d.certs != nil {
		// ServeTLS offers HTTP/2 and HTTP/1.1. WebSocket upgrades stay
		// on HTTP/1.1 (the hub hijacks the connection): Go's HTTP/2
		// server does not announce extended CONNECT (RFC 8441), so no
		// client tries a WebSocket over HTTP/2.
		srv.TLSConfig = d.certs.serverConfig()
		go func() { errc <- srv.ServeTLS(ln, "", "") }()
	} else {
		go func() { errc <- srv.Serve(ln) }()
	}
	var err error
wait:
	for {
		select {
		case err = <-errc:
			break wait
		case <-hup:
			d.reloadOnHangup(ctx)
		case <-ctx.Done():
			d.log.Info("shutting down", "grace", d.cfg.ShutdownGrace)
			break wait
		}
	}
	stopSchedules()
	d.run.Shutdown(d.cfg.ShutdownGrace)
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if serr := srv.Shutdown(shutCtx); serr != nil {
		srv.Close()
	}
	d.hub.Close() // WebSocket connections are hijacked: Shutdown leaves them
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// openWebhooks starts the inbound intake (group commit) and the outbound
// dispatcher. The returned func closes them: intake first, so that a batch
// in flight is finished, then the dispatcher.
func openWebhooks(ctx context.Context, cfg config.Config, db *catalog.DB, log *slog.Logger) (*webhook.Receiver, *webhook.Dispatcher, func(), error) {
	intake := webhook.NewIntake(db, 0)
	recv, err := webhook.NewReceiver(cfg.Webhooks.Secrets, cfg.Webhooks.TrustedProxies, intake)
	if err != nil {
		return nil, nil, nil, err
	}
	disp, err := webhook.NewDispatcher(db, cfg.Webhooks.Outbound, webhook.Options{Logger: log})
	if err != nil {
		return nil, nil, nil, err
	}
	if err := disp.Open(ctx); err != nil {
		return nil, nil, nil, err
	}
	intake.Open()
	return recv, disp, func() { intake.Close(); disp.Close() }, nil
}

func schedulesOf(cfg config.Config) map[string]string {
	out := map[string]string{}
	for name, s := range cfg.Sources {
		if s.Schedule != "" {
			out[name] = s.Schedule
		}
	}
	return out
}

// daemon holds the running parts, for the stop sequence.
type daemon struct {
	cfg    config.Config
	log    *slog.Logger
	db     *catalog.DB
	run    *runner.Runner
	hub    *hub.Hub
	certs  *certReloader // nil without TLS
	reload *reloader
}

// watch starts the catalog watcher, which hands every event committed from
// now on (by this process or any other) to the hub, in order. Older events
// reach clients through the hub's replay from the catalog.
func (d *daemon) watch(ctx context.Context) (stop func(), err error) {
	head, err := d.db.LastEventID(ctx)
	if err != nil {
		return nil, err
	}
	wctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := d.db.Watch(wctx, head, catalog.DefaultPoll, d.hub.Publish); err != nil {
			d.log.Error("catalog watcher stopped; live events stop until restart", "err", err)
		}
	}()
	return func() { cancel(); <-done }, nil
}

// openStore opens where archives are kept: the S3 bucket if one is
// configured (checked now, so that a wrong endpoint, key or bucket stops
// the start), else the archive directory.
func openStore(ctx context.Context, cfg config.Config) (storage.Store, error) {
	if s3 := cfg.Storage.S3; s3 != nil {
		return storage.NewS3(ctx, storage.S3Config{Endpoint: s3.Endpoint, Bucket: s3.Bucket, Prefix: s3.Prefix,
			Region: s3.Region, AccessKey: s3.AccessKey, SecretKey: s3.SecretKey, Insecure: s3.Insecure})
	}
	return storage.NewLocal(cfg.ArchivePath())
}

// openRepository opens the repository every new backup is stored in,
// under repo/ of the archive directory or of the bucket prefix, making it
// at the first start (its parameters go into the catalog).
func openRepository(ctx context.Context, cfg config.Config, db *catalog.DB, rs []age.Recipient, ids []age.Identity, log *slog.Logger) (*repository.Repository, error) {
	var be repo.Backend
	var err error
	if s3 := cfg.Storage.S3; s3 != nil {
		be, err = repo.NewS3(ctx, storage.S3Config{Endpoint: s3.Endpoint, Bucket: s3.Bucket, Prefix: s3.Prefix,
			Region: s3.Region, AccessKey: s3.AccessKey, SecretKey: s3.SecretKey, Insecure: s3.Insecure})
	} else {
		be, err = repo.NewLocal(filepath.Join(cfg.ArchivePath(), "repo"))
	}
	if err != nil {
		return nil, err
	}
	return repository.Open(ctx, db, repository.Options{Backend: be, Recipients: rs, Identities: ids,
		Compression: cfg.Compression, CacheDir: filepath.Join(cfg.DataDir, "repo-cache"),
		ExportDir: filepath.Join(cfg.DataDir, "exports"), ExportBudget: cfg.Repository.ExportCacheMB << 20,
		ExportMaxAge: exportMaxAge, PruneMargin: cfg.Repository.PruneMargin, Version: version, Logger: log})
}

// exportMaxAge is how long an export nobody downloaded stays cached.
const exportMaxAge = 7 * 24 * time.Hour
