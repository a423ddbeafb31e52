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
// expression names, until ctx ends or the returned stop is called. A tick
// that finds the source's previous backup still active is skipped and
// logged: schedules never pile up. ReplaceSchedules changes them later.
func (r *Runner) StartSchedules(ctx context.Context, schedules map[string]string) (stop func(), err error) {
	r.mu.Lock()
	r.cronCtx = ctx
	r.mu.Unlock()
	if err := r.ReplaceSchedules(schedules); err != nil {
		return nil, err
	}
	return func() {
		r.mu.Lock()
		c := r.cron
		r.cron, r.entries = nil, nil
		r.mu.Unlock()
		if c != nil {
			<-c.Stop().Done()
		}
	}, nil
}

// ReplaceSchedules makes schedules the ones in force, for a config
// reload: every expression is parsed first, so a bad one changes nothing.
// A source whose expression is unchanged keeps when its schedule started
// (what an overdue source is counted from). The new schedules start
// before the old stop; a tick that both fire is skipped by the second as
// a backup already active.
func (r *Runner) ReplaceSchedules(schedules map[string]string) error {
	parsed := make(map[string]cron.Schedule, len(schedules))
	for name, expr := range schedules {
		sched, err := ParseSchedule(expr)
		if err != nil {
			return fmt.Errorf("sources.%s: %w", name, err)
		}
		parsed[name] = sched
	}
	r.mu.Lock()
	ctx, old, oldEntries := r.cronCtx, r.cron, r.entries
	r.mu.Unlock()
	c := cron.New(cron.WithLocation(cronLocation))
	entries := make(map[string]scheduleEntry, len(schedules))
	now := time.Now()
	for name, sched := range parsed {
		e := scheduleEntry{expr: schedules[name], since: now}
		if prev, ok := oldEntries[name]; ok && prev.expr == e.expr {
			e.since = prev.since
		}
		e.id = c.Schedule(sched, cron.FuncJob(func() { r.scheduledTick(ctx, name) }))
		entries[name] = e
	}
	c.Start()
	r.mu.Lock()
	r.cron, r.entries = c, entries
	r.mu.Unlock()
	if old != nil {
		<-old.Stop().Done()
	}
	return nil
}

// scheduleEntry is one source's schedule in cron.
type scheduleEntry struct {
	id    cron.EntryID
	expr  string
	since time.Time // when this schedule started
}

// scheduledTick queues the scheduled backup of name.
func (r *Runner) scheduledTick(ctx context.Context, name string) {
	b, err := r.Submit(ctx, name)
	switch {
	case err == nil:
		r.log.Info("scheduled backup queued", "source", name, "backup", b.ID)
	case domain.ErrorCode(err) == domain.ECONFLICT:
		r.log.Warn("scheduled backup skipped: the previous one is still active", "source", name)
	default:
		r.log.Error("scheduled backup", "source", name, "err", err)
	}
}

// Schedule returns where source's schedule stands: its next tick, the tick
// before that (at or before now), and when the schedules started; false
// for a source without a schedule.
func (r *Runner) Schedule(source string) (domain.Schedule, bool) {
	r.mu.Lock()
	c, entry := r.cron, r.entries[source]
	r.mu.Unlock()
	if c == nil || entry.id == 0 {
		return domain.Schedule{}, false
	}
	since := entry.since
	e := c.Entry(entry.id)
	next := e.Next
	if next.IsZero() {
		return domain.Schedule{}, false
	}
	// @every counts from when cron started, not from the clock's whole
	// units, so its previous tick is one delay back.
	prev := next.Add(-time.Second)
	if d, ok := e.Schedule.(cron.ConstantDelaySchedule); ok {
		prev = next.Add(-d.Delay)
	} else {
		prev = PrevTick(e.Schedule, prev)
	}
	return domain.Schedule{Prev: prev, Next: next, Since: since}, true
}

// PrevTick returns the latest tick of s at or before t, or the zero time
// if there is none in the year before t. cron schedules only look
// forward, so it looks back over a window that doubles, starting from the
// spacing of the ticks after t, and walks forward to t from there.
func PrevTick(s cron.Schedule, t time.Time) time.Time {
	next := s.Next(t)
	if next.IsZero() {
		return time.Time{}
	}
	span := s.Next(next).Sub(next)
	if span < time.Second {
		span = time.Second
	}
	for ; span <= 400*24*time.Hour; span *= 2 {
		tick := s.Next(t.Add(-span))
		if tick.IsZero() || tick.After(t) {
			continue
		}
		for {
			n := s.Next(tick)
			if n.IsZero() || n.After(t) {
				return tick
			}
			tick = n
		}
	}
	return time.Time{}
}
