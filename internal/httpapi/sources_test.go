package httpapi

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/backupd/backupd/internal/catalog"
	"github.com/backupd/backupd/internal/domain"
	"github.com/backupd/backupd/migrations"
)

func TestOverdueSince(t *testing.T) {
	now := time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)
	hourly := domain.Schedule{Prev: now.Add(-20 * time.Minute), Next: now.Add(40 * time.Minute), Since: now.Add(-48 * time.Hour)}
	daily := domain.Schedule{Prev: now.Add(-9 * time.Hour), Next: now.Add(15 * time.Hour), Since: now.Add(-time.Minute)}
	ok := func(ago time.Duration) *domain.Backup {
		f := now.Add(-ago)
		return &domain.Backup{FinishedAt: &f}
	}
	for _, c := range []struct {
		name string
		sch  domain.Schedule
		last *domain.Backup
		want time.Duration // since when, before now; 0: not overdue
	}{
		{"hourly, success 70 min ago: within the 15 min grace", hourly, ok(70 * time.Minute), 0},
		{"hourly, success 80 min ago", hourly, ok(80 * time.Minute), 5 * time.Minute},
		{"daily, success 26 h ago: within a tenth of a day", daily, ok(26 * time.Hour), 0},
		{"daily, success 27 h ago", daily, ok(27 * time.Hour), 27*time.Hour - 24*time.Hour - 144*time.Minute},
		{"hourly, never succeeded, schedules running for 2 days", hourly, nil, 48*time.Hour - 75*time.Minute},
		{"daily, never succeeded, daemon just started", daily, nil, 0},
	} {
		got := overdueSince(c.sch, c.last, now)
		switch {
		case c.want == 0 && got != nil:
			t.Errorf("%s: overdue since %s, want not overdue", c.name, got)
		case c.want != 0 && (got == nil || !got.Equal(now.Add(-c.want))):
			t.Errorf("%s: overdue since %v, want %s", c.name, got, now.Add(-c.want))
		}
	}
}

type scheduleRunner struct {
	Runner
	schedules map[string]domain.Schedule
}

func (r scheduleRunner) Schedule(source string) (domain.Schedule, bool) {
	s, ok := r.schedules[source]
	return s, ok
}

// GET /sources: each source's newest success and failure, overdue or not,
// and its history, every key present, against a real catalog.
func TestSourceListHealth(t *testing.T) {
	ctx := context.Background()
	db, err := catalog.Open(ctx, filepath.Join(t.TempDir(), "catalog.db"), migrations.FS)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Now().UTC()
	old := now.Add(-3 * time.Hour)
	rep := func(id, source string, st domain.Status, size int64, at time.Time) domain.Backup {
		return domain.Backup{Source: source, Origin: domain.OriginWebhook, Status: st, WebhookID: id, SizeBytes: size,
			StartedAt: &at, FinishedAt: &at, ReceivedAt: &now, CreatedAt: at, Raw: []byte(`{}`), Error: map[bool]string{true: "disk full"}[st == domain.StatusFailed]}
	}
	if _, err := db.CreateReports(ctx, []domain.Backup{
		rep("a", "stale", domain.StatusSucceeded, 10, old),
		rep("b", "fine", domain.StatusSucceeded, 20, now),
		rep("c", "fine", domain.StatusFailed, 0, now),
	}); err != nil {
		t.Fatal(err)
	}
	hourly := domain.Schedule{Prev: now.Add(-10 * time.Minute), Next: now.Add(50 * time.Minute), Since: now.Add(-time.Minute)}
	s := New(Config{Catalog: db, Runner: scheduleRunner{schedules: map[string]domain.Schedule{"stale": hourly, "new": hourly}},
		Sources: []domain.SourceInfo{{Name: "stale", Schedule: "@every 1h"}, {Name: "fine"}, {Name: "new", Schedule: "@every 1h"}}})
	w := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/api/v1/sources", nil)
	req.Host = "127.0.0.1"
	s.Handler().ServeHTTP(w, req)
	if w.Code != 200 {
		t.Fatalf("GET /api/v1/sources: %d %s", w.Code, w.Body)
	}
	var raw []map[string]json.RawMessage
	if err := json.Unmarshal(w.Body.Bytes(), &raw); err != nil {
		t.Fatal(err)
	}
	for _, src := range raw {
		for _, k := range []string{"last_success", "last_failure", "overdue", "overdue_since", "history"} {
			if _, ok := src[k]; !ok {
				t.Errorf("source %s has no %q", src["name"], k)
			}
		}
	}
	var list []domain.SourceInfo
	if err := json.Unmarshal(w.Body.Bytes(), &list); err != nil {
		t.Fatal(err)
	}
	stale, fine, fresh := list[0], list[1], list[2]
	if !stale.Overdue || stale.OverdueSince == nil || !stale.OverdueSince.Equal(old.Add(75*time.Minute)) {
		t.Errorf("stale: overdue %v since %v, want since %s", stale.Overdue, stale.OverdueSince, old.Add(75*time.Minute))
	}
	if stale.NextRun == nil || len(stale.History) != 1 || stale.History[0].SizeBytes != 10 {
		t.Errorf("stale: next run %v, history %+v", stale.NextRun, stale.History)
	}
	if fine.Overdue || fine.NextRun != nil || fine.LastSuccess == nil || fine.LastFailure == nil || fine.LastFailure.Error != "disk full" {
		t.Errorf("fine (unscheduled): %+v", fine)
	}
	if fresh.Overdue || fresh.LastSuccess != nil || fresh.History == nil || len(fresh.History) != 0 {
		t.Errorf("new: %+v, want not overdue, no success, an empty history", fresh)
	}
}
