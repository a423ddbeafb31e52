package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// GET /healthz runs every check once per TTL: 200 with each "ok" while all
// pass, 503 problem+json naming what failed once one does, with every
// result under "checks" (what the failure said only for a caller with the
// token) and a line in the log; a check that hangs is cut off by the
// timeout.
func TestHealth(t *testing.T) {
	var calls atomic.Int32
	var archivesErr atomic.Pointer[error]
	var logged bytes.Buffer
	const token = "health-test-token-0123456789"
	s := New(Config{Version: "v1", Tokens: []Token{{Name: "t", Value: token, Scopes: []string{"read"}}}, Logger: slog.New(slog.NewTextHandler(&logged, nil)), Checks: []HealthCheck{
		{Name: "catalog", Check: func(context.Context) error { calls.Add(1); return nil }},
		{Name: "archives", Check: func(context.Context) error {
			if p := archivesErr.Load(); p != nil {
				return *p
			}
			return nil
		}},
	}})
	clock := time.Unix(1_700_000_000, 0)
	s.health.now = func() time.Time { return clock }
	h := s.Handler()
	get := func(auth ...string) (int, string, map[string]any) {
		t.Helper()
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/healthz", nil)
		for _, a := range auth {
			req.Header.Set("Authorization", a)
		}
		h.ServeHTTP(rec, req)
		var body map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatalf("healthz body %q: %v", rec.Body, err)
		}
		return rec.Code, rec.Header().Get("Content-Type"), body
	}

	code, ctype, body := get()
	checks, _ := body["checks"].(map[string]any)
	if code != http.StatusOK || ctype != "application/json" || body["status"] != "ok" || body["version"] != "v1" ||
		checks["catalog"] != "ok" || checks["archives"] != "ok" {
		t.Fatalf("healthy: %d %s %v", code, ctype, body)
	}

	down := errors.New("s3 at 127.0.0.1:9: connection refused")
	archivesErr.Store(&down)
	if code, _, _ := get(); code != http.StatusOK || calls.Load() != 1 {
		t.Fatalf("within the TTL the last answer stands: %d, %d rounds", code, calls.Load())
	}
	clock = clock.Add(healthTTL)
	code, ctype, body = get("Bearer " + token)
	checks, _ = body["checks"].(map[string]any)
	if code != http.StatusServiceUnavailable || ctype != "application/problem+json" || calls.Load() != 2 ||
		body["detail"] != "archives: "+down.Error() || body["code"] != "unavailable" ||
		checks["catalog"] != "ok" || checks["archives"] != down.Error() {
		t.Fatalf("archives down: %d %s %v (%d rounds)", code, ctype, body, calls.Load())
	}
	for _, auth := range []string{"", "Bearer wrong-token"} {
		code, _, body = get(auth)
		checks, _ = body["checks"].(map[string]any)
		if code != http.StatusServiceUnavailable || body["detail"] != "archives: failing" || checks["archives"] != "failing" ||
			strings.Contains(fmt.Sprint(body), "127.0.0.1") {
			t.Fatalf("archives down, asked with %q: %d %v; want the failure named, not described", auth, code, body)
		}
	}
	if n := strings.Count(logged.String(), "health check failing"); n != 1 || !strings.Contains(logged.String(), "connection refused") {
		t.Fatalf("log after one failing round, read three times: %q", logged.String())
	}
	archivesErr.Store(nil)
	clock = clock.Add(healthTTL)
	if code, _, _ := get(); code != http.StatusOK || !strings.Contains(logged.String(), "health check passing again") {
		t.Fatalf("archives back: %d, log %q", code, logged.String())
	}
}

func TestHealthCheckTimesOut(t *testing.T) {
	s := New(Config{Checks: []HealthCheck{{Name: "archives", Check: func(ctx context.Context) error {
		<-ctx.Done() // a bucket that never answers
		return ctx.Err()
	}}}})
	s.health.timeout = 100 * time.Millisecond
	start := time.Now()
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "http://127.0.0.1/healthz", nil))
	if took := time.Since(start); rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "deadline exceeded") || took > 5*time.Second {
		t.Fatalf("hanging check: %d %s after %s", rec.Code, rec.Body, took)
	}
}
