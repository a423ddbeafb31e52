package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/backupd/backupd/internal/archive"
	"github.com/backupd/backupd/internal/domain"
	"github.com/backupd/backupd/internal/repo"
	"github.com/backupd/backupd/internal/source"
)

func (r *Runner) work() {
	defer r.wg.Done()
	for {
		// Checked first so that a stop wins over a waiting job, which
		// stays queued in the catalog and runs after the next start.
		select {
		case <-r.stop:
			return
		default:
		}
		select {
		case <-r.stop:
			return
		case id := <-r.queue:
			r.run(id)
		}
	}
}

// ArchiveName is the file name of backup b's archive.
func ArchiveName(b domain.Backup) string {
	return fmt.Sprintf("%s-%s-%d.tar.zst", b.Source, b.CreatedAt.UTC().Format("20060102T150405Z"), b.ID)
}

func (r *Runner) archiveName(b domain.Backup) string {
	if len(r.opt.Recipients) > 0 {
		return ArchiveName(b) + archive.EncryptedSuffix
	}
	return ArchiveName(b)
}

// run executes one backup from queued to a final status. Catalog writes use
// the runner's context, not the job's, so a canceled job is still recorded.
func (r *Runner) run(id int64) {
	ctx := r.ctx
	b, err := r.store.Backup(ctx, id)
	if err != nil {
		r.log.Error("load queued backup", "backup", id, "err", err)
		return
	}
	if b.Status != domain.StatusQueued {
		return // canceled while queued
	}
	if b, err = r.store.StartBackup(ctx, id, r.archiveName(b)); err != nil {
		if domain.ErrorCode(err) != domain.ECONFLICT {
			r.log.Error("start backup", "backup", id, "err", err)
		}
		return
	}
	spec, ok := r.spec(b.Source)
	if !ok {
		r.finish(b, domain.Finish{Status: domain.StatusFailed,
			Error: fmt.Sprintf("source %q is no longer configured", b.Source)})
		return
	}
	log := r.log.With("backup", id, "source", b.Source)
	log.Info("backup started", "archive", b.Archive)
	start := time.Now()
	backupsRunning.Inc()
	var f domain.Finish
	if r.opt.Repository != nil {
		f = outcome(r.dumpRepo(b, spec))
	} else {
		f = outcome(r.dump(b, spec))
	}
	backupsRunning.Dec()
	backupDuration.WithLabelValues(b.Source, string(f.Status)).Observe(time.Since(start).Seconds())
	if f.Status == domain.StatusSucceeded {
		backupSize.WithLabelValues(b.Source).Observe(float64(f.SizeBytes))
		log.Info("backup succeeded", "bytes", f.SizeBytes, "sha256", f.SHA256, "snapshot", f.Snapshot,
			"added_bytes", f.AddedBytes, "took", time.Since(start).Round(time.Millisecond))
	} else {
		log.Warn("backup did not succeed", "status", f.Status, "err", f.Error)
	}
	done := r.finish(b, f)
	if done.Status != domain.StatusSucceeded {
		return
	}
	r.expire(spec)
	if r.opt.AfterSuccess != nil {
		r.opt.AfterSuccess(r.ctx, done)
	}
}

// expire applies the source's retention after a success, so the archives
// kept never drop below what it keeps of good ones. Calendar days are the
// daemon's local ones, as the schedules' are.
func (r *Runner) expire(spec Spec) {
	expired, err := r.store.ExpireArchives(r.ctx, spec.Name, spec.Retention, time.Local)
	if err != nil {
		r.log.Error("apply retention", "source", spec.Name, "err", err)
		return
	}
	for _, e := range expired {
		if e.Snapshot != "" {
			r.forget(spec, e)
			continue
		}
		name := e.Archive
		if err := r.storage.Remove(name); err != nil {
			r.log.Error("remove expired archive", "source", spec.Name, "archive", name, "err", err)
			continue
		}
		r.log.Info("removed expired archive", "source", spec.Name, "archive", name, "retention", spec.Retention.String())
	}
	r.prune()
}

func (r *Runner) forget(spec Spec, e domain.Expired) {
	if r.opt.Repository == nil {
		r.log.Error("an expired backup is in the repository, but the runner has none", "backup", e.ID, "snapshot", e.Snapshot)
		return
	}
	if err := r.opt.Repository.Forget(r.ctx, e); err != nil {
		r.log.Error("forget expired snapshot", "source", spec.Name, "backup", e.ID, "snapshot", e.Snapshot, "err", err)
		return
	}
	r.log.Info("forgot expired snapshot", "source", spec.Name, "backup", e.ID, "snapshot", e.Snapshot, "retention", spec.Retention.String())
}

// prune runs after each retention pass: its first phase marks what the
// snapshots just forgotten (or failed backups) left, and a later pass
// deletes it once the margin has passed and no backup that began before
// the mark still runs.
func (r *Runner) prune() {
	if r.opt.Repository == nil {
		return
	}
	if _, err := r.opt.Repository.Prune(r.ctx); err != nil {
		r.log.Error("prune the repository", "err", err)
	}
}

func (r *Runner) finish(b domain.Backup, f domain.Finish) domain.Backup {
	done, err := r.store.FinishBackup(r.ctx, b.ID, f)
	if err != nil {
		r.log.Error("record backup outcome", "backup", b.ID, "err", err)
	}
	return done
}

// outcome turns a dump's result into the status to record.
func outcome(f domain.Finish, err error) domain.Finish {
	switch {
	case err == nil:
		f.Status = domain.StatusSucceeded
		return f
	case errors.Is(err, errUserCanceled):
		return domain.Finish{Status: domain.StatusCanceled, Error: errUserCanceled.Error()}
	case errors.Is(err, errShutdown):
		return domain.Finish{Status: domain.StatusFailed, Error: errShutdown.Error()}
	}
	return domain.Finish{Status: domain.StatusFailed, Error: err.Error()}
}

// jobContext is the context a backup runs in: canceled by Cancel or
// Shutdown (with the cause), and after the source's timeout.
func (r *Runner) jobContext(spec Spec) (context.Context, context.CancelCauseFunc, func()) {
	ctx, cancel := context.WithCancelCause(r.ctx)
	stop := func() { cancel(nil) }
	if spec.Timeout > 0 {
		var stopTimeout context.CancelFunc
		ctx, stopTimeout = context.WithTimeoutCause(ctx, spec.Timeout, fmt.Errorf("timed out after %s (sources.%s.timeout)", spec.Timeout, spec.Name))
		stop = func() { stopTimeout(); cancel(nil) }
	}
	return ctx, cancel, stop
}

// dumpRepo runs the source into a repository backup and commits it: the
// backup is succeeded only once Commit has returned, that is once every
// pack it references and its snapshot are durable in the store. A crash
// before leaves at most packs no snapshot references, which prune
// removes.
func (r *Runner) dumpRepo(b domain.Backup, spec Spec) (domain.Finish, error) {
	ctx, cancel, stop := r.jobContext(spec)
	defer stop()
	bk, err := r.opt.Repository.NewBackup(ctx, repo.Meta{Source: b.Source, Kind: spec.Source.Kind(), BackupID: b.ID,
		Host: r.host, Version: r.opt.Version, StartedAt: *b.StartedAt})
	if err != nil {
		return domain.Finish{}, err
	}
	defer bk.Abort()
	r.track(b, &job{cancel: cancel, bytes: bk.BytesRead})
	defer r.untrack(b.ID)
	a := &repoArchive{ctx: ctx, b: bk}
	stopTicks := r.tick(b, bk.BytesRead)
	err = spec.Source.Dump(ctx, a, source.Env{TempDir: r.opt.TempDir, Logger: r.log.With("source", b.Source)})
	stopTicks()
	var f domain.Finish
	if err == nil {
		var info []byte
		if info, err = a.infoJSON(); err == nil {
			var snap repo.Snapshot
			var st repo.Stats
			snap, st, err = bk.Commit(ctx, info)
			f = domain.Finish{SizeBytes: snap.Size, Snapshot: snap.ID.String(), LogicalBytes: snap.Size, AddedBytes: st.BytesStored}
		}
	}
	if cause := context.Cause(ctx); err != nil && cause != nil {
		err = cause
	}
	return f, err
}

// dump streams the source into a new archive and commits it. On any error
// the partial file is removed: only a committed archive has its final name.
func (r *Runner) dump(b domain.Backup, spec Spec) (domain.Finish, error) {
	ctx, cancel, stop := r.jobContext(spec)
	defer stop()
	var res archive.Result
	pending, err := r.storage.Create(b.Archive)
	if err != nil {
		return domain.Finish{}, err
	}
	w, err := archive.NewWriter(pending, archive.Meta{
		Source: b.Source, Kind: spec.Source.Kind(), BackupID: b.ID, Version: r.opt.Version, Started: *b.StartedAt,
	}, archive.Options{Level: r.opt.Compression, Recipients: r.opt.Recipients})
	if err != nil {
		pending.Abort()
		return domain.Finish{}, err
	}
	r.track(b, &job{cancel: cancel, bytes: w.BytesIn})
	defer r.untrack(b.ID)

	stopTicks := r.tick(b, w.BytesIn)
	err = spec.Source.Dump(ctx, w, source.Env{TempDir: r.opt.TempDir, Logger: r.log.With("source", b.Source)})
	stopTicks()
	if err == nil {
		res, err = w.Close()
	}
	if err == nil {
		err = pending.Commit()
	} else {
		pending.Abort()
	}
	if cause := context.Cause(ctx); err != nil && cause != nil {
		// The source saw "context canceled"; say why it was canceled.
		err = cause
	}
	return domain.Finish{SizeBytes: res.Size, SHA256: res.SHA256}, err
}

func (r *Runner) track(b domain.Backup, j *job) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.running[b.ID] = j
}

func (r *Runner) untrack(id int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.running, id)
}

// tick sends ephemeral progress events until the returned func is called.
func (r *Runner) tick(b domain.Backup, bytes func() int64) (stop func()) {
	if r.opt.OnProgress == nil {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(r.opt.ProgressEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case now := <-t.C:
				data, _ := json.Marshal(map[string]any{"id": b.ID, "source": b.Source, "bytes_done": bytes()})
				r.opt.OnProgress(domain.Event{Type: domain.EventBackupProgress, BackupID: b.ID,
					Source: b.Source, Time: now.UTC(), Data: data, Ephemeral: true})
			}
		}
	}()
	return func() { close(done); <-finished }
}
