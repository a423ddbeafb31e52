package runner_test

import (
	"testing"
	"time"

	"github.com/backupd/backupd/internal/runner"
)

func TestPrevTick(t *testing.T) {
	at := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse("2006-01-02 15:04", s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, c := range []struct{ expr, now, want string }{
		{"0 3 * * *", "2026-03-04 12:00", "2026-03-04 03:00"},
		{"0 3 * * *", "2026-03-04 03:00", "2026-03-04 03:00"}, // at the tick itself
		{"0 3 * * *", "2026-03-04 02:59", "2026-03-03 03:00"},
		{"*/15 * * * *", "2026-03-04 12:07", "2026-03-04 12:00"},
		// Weekdays only: on Sunday the last tick is Friday's.
		{"0 3 * * 1-5", "2026-03-08 12:00", "2026-03-06 03:00"},
		// Business hours: at night the last tick is the evening's.
		{"*/5 9-17 * * *", "2026-03-05 08:00", "2026-03-04 17:55"},
		{"0 0 1 * *", "2026-03-15 00:00", "2026-03-01 00:00"},
		{"@yearly", "2026-03-15 00:00", "2026-01-01 00:00"},
	} {
		s, err := runner.ParseSchedule(c.expr)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := runner.PrevTick(s, at(c.now)), at(c.want); !got.Equal(want) {
			t.Errorf("PrevTick(%q, %s) = %s, want %s", c.expr, c.now, got, want)
		}
	}
}

// Schedule says where each source's schedule stands: an @every schedule
// one delay between its ticks, a daily one a day, none for the rest.
func TestScheduleTicks(t *testing.T) {
	r := runner.New(nil, nil, nil, runner.Options{})
	before := time.Now()
	stop, err := r.StartSchedules(t.Context(), map[string]string{"hourly": "@every 1h", "nightly": "0 3 * * *"})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	for src, want := range map[string]time.Duration{"hourly": time.Hour, "nightly": 24 * time.Hour} {
		s, ok := r.Schedule(src)
		if !ok {
			t.Fatalf("%s: no schedule", src)
		}
		if got := s.Next.Sub(s.Prev); got != want {
			t.Errorf("%s: %s between the ticks around now (%s, %s), want %s", src, got, s.Prev, s.Next, want)
		}
		if !s.Next.After(before) || s.Prev.After(time.Now()) || s.Since.Before(before) {
			t.Errorf("%s: prev %s, next %s, since %s; started at %s", src, s.Prev, s.Next, s.Since, before)
		}
	}
	if _, ok := r.Schedule("manual"); ok {
		t.Error("a source without a schedule has one")
	}
}
