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
