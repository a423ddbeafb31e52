package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/backupd/backupd/internal/archive"
	"github.com/backupd/backupd/internal/domain"
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
	spec, ok := r.specs[b.Source]
	if !ok {
		r.finish(b, domain.Finish{Status: domain.StatusFailed,
			Error: fmt.Sprintf("source %q is no longer configured", b.Source)})
		return
	}
	log := r.log.With("backup", id, "source", b.Source)
	log.Info("backup started", "archive", b.Archive)
	start := time.Now()
	backupsRunning.Inc()
	res, err := r.dump(b, spec)
	backupsRunning.Dec()
	f := outcome(res, err)
	backupDuration.WithLabelValues(b.Source, string(f.Status)).Observe(time.Since(start).Seconds())
	if f.Status == domain.StatusSucceeded {
		backupSize.WithLabelValues(b.Source).Observe(float64(res.Size))
	}
	if f.Status == domain.StatusSucceeded {
		log.Info("backup succeeded", "bytes", res.Size, "sha256", res.SHA256, "took", time.Since(start).Round(time.Millisecond))
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
		name := e.Archive
		if err := r.storage.Remove(name); err != nil {
			r.log.Error("remove expired archive", "source", spec.Name, "archive", name, "err", err)
			continue
		}
		r.log.Info("removed expired archive", "source", spec.Name, "archive", name, "retention", spec.Retention.String())
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
func outcome(res archive.Result, err error) domain.Finish {
	switch {
	case err == nil:
		return domain.Finish{Status: domain.StatusSucceeded, SizeBytes: res.Size, SHA256: res.SHA256}
	case errors.Is(err, errUserCanceled):
		return domain.Finish{Status: domain.StatusCanceled, Error: errUserCanceled.Error()}
	case errors.Is(err, errShutdown):
		return domain.Finish{Status: domain.StatusFailed, Error: errShutdown.Error()}
	}
	return domain.Finish{Status: domain.StatusFailed, Error: err.Error()}
}

// dump streams the source into a new archive and commits it. On any error
// the partial file is removed: only a committed archive has its final name.
func (r *Runner) dump(b domain.Backup, spec Spec) (res archive.Result, err error) {
	ctx, cancel := context.WithCancelCause(r.ctx)
	defer cancel(nil)
	if spec.Timeout > 0 {
		var stop context.CancelFunc
		ctx, stop = context.WithTimeoutCause(ctx, spec.Timeout, fmt.Errorf("timed out after %s (sources.%s.timeout)", spec.Timeout, spec.Name))
		defer stop()
	}
	pending, err := r.storage.Create(b.Archive)
	if err != nil {
		return res, err
	}
	w, err := archive.NewWriter(pending, archive.Meta{
		Source: b.Source, Kind: spec.Source.Kind(), BackupID: b.ID, Version: r.opt.Version, Started: *b.StartedAt,
	}, archive.Options{Level: r.opt.Compression, Recipients: r.opt.Recipients})
	if err != nil {
		pending.Abort()
		return res, err
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
	return res, err
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
