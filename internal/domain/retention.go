package domain

import (
	"fmt"
	"strings"
	"time"
)

// Retention says which succeeded archives of a source to keep; the others
// lose their files (their records stay). An archive is kept if any rule
// keeps it. The zero Retention keeps everything.
//
// The calendar rules work as restic's forget does: going from the newest
// archive back, each rule keeps the newest archive of each day (ISO week,
// month) that has one, until it has kept that many. Days are counted in
// loc, the zone the schedules run in, and days without a backup do not
// count: keep_daily: 7 keeps seven daily archives even across a week of
// outage, rather than expiring the last good ones.
type Retention struct {
	Last    int // the newest Last archives
	Daily   int // the newest archive of each of the Daily most recent days
	Weekly  int // ... ISO weeks
	Monthly int // ... months
}

// KeepsAll reports whether r expires nothing.
func (r Retention) KeepsAll() bool {
	return r.Last <= 0 && r.Daily <= 0 && r.Weekly <= 0 && r.Monthly <= 0
}

// String lists r's rules as they are configured, for logs.
func (r Retention) String() string {
	if r.KeepsAll() {
		return "keep all"
	}
	var parts []string
	for _, p := range []struct {
		name string
		n    int
	}{{"keep", r.Last}, {"keep_daily", r.Daily}, {"keep_weekly", r.Weekly}, {"keep_monthly", r.Monthly}} {
		if p.n > 0 {
			parts = append(parts, fmt.Sprintf("%s: %d", p.name, p.n))
		}
	}
	return strings.Join(parts, ", ")
}

// Expired returns the indexes, into times (when each archive's backup was
// created, newest first), of the archives r does not keep.
func (r Retention) Expired(times []time.Time, loc *time.Location) []int {
	if r.KeepsAll() {
		return nil
	}
	keep := make([]bool, len(times))
	for i := 0; i < len(times) && i < r.Last; i++ {
		keep[i] = true
	}
	rules := []struct {
		n      int
		bucket func(time.Time) string
	}{
		{r.Daily, func(t time.Time) string { return t.Format("2006-01-02") }},
		{r.Weekly, func(t time.Time) string { y, w := t.ISOWeek(); return fmt.Sprintf("%d-W%02d", y, w) }},
		{r.Monthly, func(t time.Time) string { return t.Format("2006-01") }},
	}
	for _, rule := range rules {
		kept, last := 0, ""
		for i := 0; i < len(times) && kept < rule.n; i++ {
			if b := rule.bucket(times[i].In(loc)); b != last {
				keep[i], last = true, b
				kept++
			}
		}
	}
	var out []int
	for i, k := range keep {
		if !k {
			out = append(out, i)
		}
	}
	return out
}

// Expired is what retention took from a backup, for the caller to delete:
// its tar.zst archive, or its repository snapshot (Archive then names the
// export built for downloads, if any).
type Expired struct {
	ID       int64
	Archive  string
	Snapshot string
}
