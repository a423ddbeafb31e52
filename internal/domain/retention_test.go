package domain_test

import (
	"slices"
	"testing"
	"time"
	_ "time/tzdata" // Europe/Berlin on a machine without a zone database

	"github.com/backupd/backupd/internal/domain"
)

func TestRetentionExpired(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	at := func(s string) time.Time {
		tm, err := time.ParseInLocation("2006-01-02 15:04", s, time.UTC)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	// Newest first, as the catalog lists them (UTC).
	times := []time.Time{
		at("2026-03-02 03:00"), // 0  Mon, ISO week 10, March
		at("2026-03-01 15:00"), // 1  Sun, week 9
		at("2026-03-01 03:00"), // 2  Sun, week 9
		at("2026-02-28 03:00"), // 3  Sat, week 9, February
		// nothing on 2026-02-27 to 02-22: an outage
		at("2026-02-21 03:00"), // 4  Sat, week 8
		at("2026-02-15 03:00"), // 5  Sun, week 7
		at("2026-01-31 23:30"), // 6  Sat, week 5, January (already February 1 in Berlin)
		at("2026-01-10 03:00"), // 7  Sat, week 2, January
		at("2025-12-31 03:00"), // 8  Wed, week 1 of ISO year 2026, December 2025
	}
	for _, tc := range []struct {
		name string
		r    domain.Retention
		loc  *time.Location
		keep []int
	}{
		{"zero keeps all", domain.Retention{}, time.UTC, []int{0, 1, 2, 3, 4, 5, 6, 7, 8}},
		{"last 3", domain.Retention{Last: 3}, time.UTC, []int{0, 1, 2}},
		{"last beyond the count", domain.Retention{Last: 20}, time.UTC, []int{0, 1, 2, 3, 4, 5, 6, 7, 8}},
		// Days with backups count, not calendar days: the outage does not
		// empty the window.
		{"daily 4", domain.Retention{Daily: 4}, time.UTC, []int{0, 1, 3, 4}},
		{"weekly 3", domain.Retention{Weekly: 3}, time.UTC, []int{0, 1, 4}},
		{"monthly 3", domain.Retention{Monthly: 3}, time.UTC, []int{0, 3, 6}},
		{"monthly 4 reaches December", domain.Retention{Monthly: 4}, time.UTC, []int{0, 3, 6, 8}},
		// In Berlin, backup 6 was taken on February 1st: January's newest
		// is then backup 7.
		{"monthly 3 in Berlin", domain.Retention{Monthly: 3}, berlin, []int{0, 3, 7}},
		{"rules add up", domain.Retention{Last: 2, Daily: 3, Weekly: 4, Monthly: 5}, time.UTC, []int{0, 1, 3, 4, 5, 6, 8}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			expired := tc.r.Expired(times, tc.loc)
			var kept []int
			for i := range times {
				if !slices.Contains(expired, i) {
					kept = append(kept, i)
				}
			}
			if !slices.Equal(kept, tc.keep) {
				t.Fatalf("%s keeps %v, want %v (expired %v)", tc.r, kept, tc.keep, expired)
			}
		})
	}
	if got := (domain.Retention{}).Expired(nil, time.UTC); got != nil {
		t.Fatalf("nothing to expire: %v", got)
	}
}
