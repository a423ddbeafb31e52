package webhook

import (
	"net/http"
	"testing"
	"time"

	"github.com/backupd/backupd/internal/catalog"
)

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"":     0,
		"120":  2 * time.Minute,
		"0":    time.Millisecond,
		"soon": 0,
		now.Add(90 * time.Second).Format(http.TimeFormat): 90 * time.Second,
		now.Add(-time.Hour).Format(http.TimeFormat):       0,
	} {
		if got := retryAfter(v, now); got != want {
			t.Errorf("retryAfter(%q) = %s, want %s", v, got, want)
		}
	}
}

func TestRetrySchedule(t *testing.T) {
	d := &Dispatcher{opts: Options{BaseDelay: time.Second, MaxDelay: time.Minute, MaxAttempts: 5, MaxAge: time.Hour}}
	now := time.Now()
	del := catalog.Delivery{CreatedAt: now, Attempts: 2}
	// Retry-After wins over the backoff.
	a := d.retry(catalog.Attempt{At: now}, del, 7*time.Second)
	if a.Status != catalog.DeliveryPending || !a.NextAttemptAt.Equal(now.Add(7*time.Second)) {
		t.Errorf("with Retry-After: %+v", a)
	}
	// Third attempt: backoff 4s with jitter, between 2s and 4s.
	a = d.retry(catalog.Attempt{At: now}, del, 0)
	if delay := a.NextAttemptAt.Sub(now); delay < 2*time.Second || delay > 4*time.Second {
		t.Errorf("backoff after 3 attempts = %s, want 2s..4s", delay)
	}
	if a = d.retry(catalog.Attempt{At: now}, catalog.Delivery{CreatedAt: now, Attempts: 4}, 0); a.Status != catalog.DeliveryFailed {
		t.Errorf("after MaxAttempts: %s, want failed", a.Status)
	}
	if a = d.retry(catalog.Attempt{At: now}, del, 2*time.Hour); a.Status != catalog.DeliveryFailed {
		t.Errorf("past MaxAge: %s, want failed", a.Status)
	}
	if got := backoff(time.Second, time.Minute, 200); got < 30*time.Second || got > time.Minute {
		t.Errorf("backoff(200 attempts) = %s, want capped at 1m", got)
	}
}
