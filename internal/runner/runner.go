// Package runner runs backups: a bounded pool of workers takes queued
// backups, streams each source into an archive in storage and records the
// outcome in the catalog. At most one backup per source is active (queued or
// running) at a time; the catalog enforces it when a backup is created.
package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"filippo.io/age"
	"github.com/robfig/cron/v3"

	"github.com/backupd/backupd/internal/domain"
	"github.com/backupd/backupd/internal/repo"
	"github.com/backupd/backupd/internal/source"
	"github.com/backupd/backupd/internal/storage"
)

// Store is the part of the catalog the runner uses.
type Store interface {
	CreateBackup(ctx context.Context, source, kind string) (domain.Backup, error)
	StartBackup(ctx context.Context, id int64, archive string) (domain.Backup, error)
	FinishBackup(ctx context.Context, id int64, f domain.Finish) (domain.Backup, error)
	ExpireArchives(ctx context.Context, source string, r domain.Retention, loc *time.Location) ([]domain.Expired, error)
	CancelQueued(ctx context.Context, id int64) (domain.Backup, error)
	Backup(ctx context.Context, id int64) (domain.Backup, error)
	Recover(ctx context.Context) (interrupted, queued []domain.Backup, err error)
}

// Storage is where archives go: storage.Local or storage.S3.
type Storage interface {
	Create(name string) (storage.Upload, error)
	Remove(name string) error
	RemovePartials() ([]string, error)
}

// Repository is the deduplicated repository (internal/repository) that
// backups go to when Options.Repository is set.
type Repository interface {
	NewBackup(ctx context.Context, meta repo.Meta) (*repo.Backup, error)
	// Forget removes an expired backup's snapshot, and its export if one
	// was built.
	Forget(ctx context.Context, e domain.Expired) error
	// ForgetBackups forgets the snapshots recorded for these backups: a
	// crash between a snapshot's commit and its record in the backups
	// table leaves one that no record points to.
	ForgetBackups(ctx context.Context, ids []int64) error
	// Prune removes packs no snapshot needs (two-phase) and records the
	// outcome as a repo.pruned event.
	Prune(ctx context.Context) (domain.PruneResult, error)
}

// Spec is one configured source as the runner needs it.
type Spec struct {
	Name    string
	Source  source.Source
	Timeout time.Duration
	// Retention says which succeeded archives to keep; the zero value
	// keeps all.
	Retention domain.Retention
}

// Options tune a Runner.
type Options struct {
	Workers     int
	Compression string // archive level: fastest, default, better, best
	// Recipients, if any, encrypt every archive with age; the archives
	// are then named .tar.zst.age.
	Recipients []age.Recipient
	// Repository, if set, is where every backup is stored; without it
	// backups are tar.zst archives in Storage (the format of archives
	// made before the repository, kept for tests and old records).
	Repository Repository
	Version    string // written into each manifest
	TempDir    string // scratch space lent to sources
	Logger     *slog.Logger
	// OnProgress, if set, is called about every ProgressEvery with an
	// ephemeral progress event for each running backup.
	OnProgress    func(domain.Event)
	ProgressEvery time.Duration
	// AfterSuccess, if set, runs after a backup succeeded and retention was
	// applied (a restore drill, say), in the worker, on the runner's
	// context: the worker takes its next backup once it returns.
	AfterSuccess func(ctx context.Context, b domain.Backup)
}

// Runner owns the queue and the workers.
type Runner struct {
	store   Store
	storage Storage
	opt     Options
	log     *slog.Logger
	host    string // recorded in each snapshot

	queue chan int64
	stop  chan struct{} // closed by Shutdown: workers take no more jobs

	mu       sync.Mutex
	stopping bool
	running  map[int64]*job
	specs    map[string]Spec          // guarded by mu: SetSpecs replaces it
	cron     *cron.Cron               // set by StartSchedules
	entries  map[string]scheduleEntry // source -> its schedule in cron
	cronCtx  context.Context          // what scheduled backups are submitted with

	ctx    context.Context // lives until every worker has stopped
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// job is a running backup, as seen by Cancel, Progress and Shutdown.
type job struct {
	cancel context.CancelCauseFunc
	bytes  func() int64
}

// errUserCanceled and errShutdown are the causes a running job's context
// is canceled with; they decide between "canceled" and "failed".
var (
	errUserCanceled = errors.New("canceled by request")
	errShutdown     = errors.New("interrupted: the daemon shut down before the backup finished")
)

// New returns a Runner; Open starts it.
func New(store Store, storage Storage, specs []Spec, opt Options) *Runner {
	if opt.Workers < 1 {
		opt.Workers = 1
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.ProgressEvery <= 0 {
		opt.ProgressEvery = 500 * time.Millisecond
	}
	host, _ := os.Hostname()
	m := make(map[string]Spec, len(specs))
	for _, s := range specs {
		m[s.Name] = s
	}
	return &Runner{
		store: store, storage: storage, specs: m, opt: opt, host: host,
		log: opt.Logger.With("component", "runner"),
		// One active backup per source bounds the queue by the number of
		// sources; the slack covers backups of sources since removed.
		queue:   make(chan int64, len(specs)+64),
		stop:    make(chan struct{}),
		running: map[int64]*job{},
	}
}

// Open recovers from a crash (running backups become failed/interrupted,
// their partial files are removed, queued ones are queued again) and starts
// the workers.
func (r *Runner) Open(ctx context.Context) error {
	interrupted, queued, err := r.store.Recover(ctx)
	if err != nil {
		return err
	}
	for _, b := range interrupted {
		r.log.Warn("backup was interrupted by a stop; marked failed", "backup", b.ID, "source", b.Source)
	}
	removed, err := r.storage.RemovePartials()
	if err != nil {
		return err
	}
	for _, name := range removed {
		r.log.Info("removed partial archive", "file", name)
	}
	if r.opt.Repository != nil && len(interrupted) > 0 {
		ids := make([]int64, len(interrupted))
		for i, b := range interrupted {
			ids[i] = b.ID
		}
		if err := r.opt.Repository.ForgetBackups(ctx, ids); err != nil {
			return err
		}
	}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	for i := 0; i < r.opt.Workers; i++ {
		r.wg.Add(1)
		go r.work()
	}
	for _, b := range queued {
		if err := r.enqueue(ctx, b.ID); err != nil {
			return err
		}
	}
	return nil
}

// Sources returns the sources the runner can back up, by name.
func (r *Runner) Sources() map[string]Spec {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.specs
}

// spec returns the named source's spec.
func (r *Runner) spec(name string) (Spec, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.specs[name]
	return s, ok
}

// SetSpecs makes specs the sources the runner backs up, for a config
// reload. A running backup keeps the spec it started with; a queued one
// runs with the new spec of its source, or fails if the source is gone.
func (r *Runner) SetSpecs(specs []Spec) {
	m := make(map[string]Spec, len(specs))
	for _, s := range specs {
		m[s.Name] = s
	}
	r.mu.Lock()
	r.specs = m
	r.mu.Unlock()
}

// Submit queues a backup of the named source.
func (r *Runner) Submit(ctx context.Context, name string) (domain.Backup, error) {
	spec, ok := r.spec(name)
	if !ok {
		return domain.Backup{}, domain.Errorf(domain.ENOTFOUND, "no source named %q; GET /api/v1/sources lists them", name)
	}
	r.mu.Lock()
	stopping := r.stopping
	r.mu.Unlock()
	if stopping {
		return domain.Backup{}, domain.Errorf(domain.EUNAVAILABLE, "the daemon is shutting down; try again once it is back")
	}
	b, err := r.store.CreateBackup(ctx, name, spec.Source.Kind())
	if err != nil {
		return b, err
	}
	return b, r.enqueue(ctx, b.ID)
}

func (r *Runner) enqueue(ctx context.Context, id int64) error {
	select {
	case r.queue <- id:
		return nil
	case <-r.stop:
		return nil // stays queued in the catalog; runs after the next start
	case <-ctx.Done():
		// The backup stays queued in the catalog and runs after a restart.
		return fmt.Errorf("enqueue backup %d: %w", id, ctx.Err())
	}
}

// Cancel stops a queued or running backup.
func (r *Runner) Cancel(ctx context.Context, id int64) (domain.Backup, error) {
	r.mu.Lock()
	j := r.running[id]
	r.mu.Unlock()
	if j != nil {
		j.cancel(errUserCanceled)
		return r.store.Backup(ctx, id)
	}
	b, err := r.store.CancelQueued(ctx, id)
	if domain.ErrorCode(err) == domain.ECONFLICT {
		cur, gerr := r.store.Backup(ctx, id)
		if gerr != nil {
			return cur, gerr
		}
		if cur.Status == domain.StatusRunning {
			// Started between our two looks; cancel the job now.
			return r.Cancel(ctx, id)
		}
		return cur, domain.Errorf(domain.ECONFLICT, "backup %d is already %s", id, cur.Status)
	}
	return b, err
}

// BytesDone returns how many source bytes a running backup has read.
func (r *Runner) BytesDone(id int64) (int64, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	j := r.running[id]
	if j == nil || j.bytes == nil {
		return 0, false
	}
	return j.bytes(), true
}

// Shutdown stops taking work, waits up to grace for running backups to end,
// then cancels the rest, which are recorded as failed (interrupted). Queued
// backups stay queued in the catalog and run after the next start.
func (r *Runner) Shutdown(grace time.Duration) {
	r.mu.Lock()
	already := r.stopping
	r.stopping = true
	r.mu.Unlock()
	if already || r.cancel == nil {
		return
	}
	close(r.stop)
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(grace):
		r.mu.Lock()
		for id, j := range r.running {
			r.log.Warn("canceling backup still running after the grace period", "backup", id)
			j.cancel(errShutdown)
		}
		r.mu.Unlock()
		<-done
	}
	r.cancel()
}
