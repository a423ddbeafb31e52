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
	r.cron, r.entries, r.cronSince = c, entries, time.Now()
	r.mu.Unlock()
	c.Start()
	return func() { <-c.Stop().Done() }, nil
}

// Schedule returns where source's schedule stands: its next tick, the tick
// before that (at or before now), and when the schedules started; false
// for a source without a schedule.
func (r *Runner) Schedule(source string) (domain.Schedule, bool) {
	r.mu.Lock()
	c, id, since := r.cron, r.entries[source], r.cronSince
	r.mu.Unlock()
	if id == 0 {
		return domain.Schedule{}, false
	}
	e := c.Entry(id)
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
