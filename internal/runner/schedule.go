package runner

import (
	"context"
	"fmt"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/backupd/backupd/internal/domain"
)

// ParseSchedule parses a cron expression: five fields, or a descriptor
// such as @daily or @every 1h.
func ParseSchedule(expr string) (cron.Schedule, error) {
	s, err := cron.ParseStandard(expr)
	if err != nil {
		return nil, fmt.Errorf("schedule %q: %w", expr, err)
	}
	return s, nil
}

// StartSchedules submits a backup of each source at the times its
// expression names, until ctx ends. A tick that finds the source's previous
// backup still active is skipped and logged: schedules never pile up.
func (r *Runner) StartSchedules(ctx context.Context, schedules map[string]string) (stop func(), err error) {
	c := cron.New(cron.WithLocation(cronLocation))
	entries := make(map[string]cron.EntryID, len(schedules))
	for name, expr := range schedules {
		sched, err := ParseSchedule(expr)
		if err != nil {
			return nil, fmt.Errorf("sources.%s: %w", name, err)
		}
		name := name
		entries[name] = c.Schedule(sched, cron.FuncJob(func() {
			b, err := r.Submit(ctx, name)
			switch {
			case err == nil:
				r.log.Info("scheduled backup queued", "source", name, "backup", b.ID)
			case domain.ErrorCode(err) == domain.ECONFLICT:
				r.log.Warn("scheduled backup skipped: the previous one is still active", "source", name)
			default:
				r.log.Error("scheduled backup", "source", name, "err", err)
			}
		}))
	}
	r.mu.Lock()
	r.cron, r.entries = c, entries
	r.mu.Unlock()
	c.Start()
	return func() { <-c.Stop().Done() }, nil
}

// NextRun returns when source's schedule will next queue a backup; false
// for a source without one.
func (r *Runner) NextRun(source string) (time.Time, bool) {
	r.mu.Lock()
	c, id, ok := r.cron, r.entries[source], r.entries != nil
	r.mu.Unlock()
	if !ok || id == 0 {
		return time.Time{}, false
	}
	next := c.Entry(id).Next
	return next, !next.IsZero()
}
