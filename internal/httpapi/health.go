package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/backupd/backupd/internal/domain"
)

// HealthCheck is one part of the daemon that GET /healthz asks about.
type HealthCheck struct {
	Name  string // "catalog", "archives"
	Check func(ctx context.Context) error
}

// healthTimeout bounds one round of checks: an unreachable bucket must not
// hang the monitor that asks.
const healthTimeout = 5 * time.Second

// healthTTL is how long a round's answer is reused: a monitor polling
// every second, or several of them, costs the bucket one request per
// TTL, not one per probe.
const healthTTL = 2 * time.Second

// health runs the checks, at most one round at a time, and keeps the last
// answer for healthTTL.
type health struct {
	checks  []HealthCheck
	now     func() time.Time
	timeout time.Duration // healthTimeout
	log     *slog.Logger

	mu      sync.Mutex
	at      time.Time
	results map[string]string // name -> "ok" or the error
	failed  []string          // names that failed, in check order
}

func (h *health) get(ctx context.Context) (map[string]string, []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.results != nil && h.now().Sub(h.at) < healthTTL {
		return h.results, h.failed
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), h.timeout)
	defer cancel()
	errs := make([]error, len(h.checks))
	var wg sync.WaitGroup
	for i, c := range h.checks {
		wg.Go(func() { errs[i] = c.Check(ctx) })
	}
	wg.Wait()
	results := make(map[string]string, len(h.checks))
	var failed []string
	for i, c := range h.checks {
		if errs[i] != nil {
			results[c.Name] = errs[i].Error()
			failed = append(failed, c.Name)
		} else {
			results[c.Name] = "ok"
		}
	}
	for _, c := range h.checks { // log changes only: monitors poll often
		was, now := h.results[c.Name], results[c.Name]
		switch {
		case now != "ok" && now != was:
			h.log.Warn("health check failing", "check", c.Name, "err", now)
		case now == "ok" && was != "" && was != "ok":
			h.log.Info("health check passing again", "check", c.Name)
		}
	}
	h.at, h.results, h.failed = h.now(), results, failed
	return results, failed
}

// handleHealth answers GET /healthz without auth: 200 with each check's
// "ok" when the daemon can take and store backups, else 503 as
// problem+json naming what failed, with every check's result under
// "checks". A process that answers at all is alive; a 503 means backups
// would fail now.
//
// What a failing check says (paths, the bucket's endpoint) is shown only
// to a caller with a valid token, or to anyone when no tokens are
// configured (the daemon then listens on loopback only); others read
// "failing", and the daemon's log has the rest.
func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	results, failed := s.health.get(r.Context())
	if len(failed) == 0 {
		WriteJSON(w, http.StatusOK, map[string]any{"status": "ok", "version": s.Version, "checks": results})
		return
	}
	if !s.mayReadDetails(r) {
		shown := make(map[string]string, len(results))
		for name, res := range results {
			if res != "ok" {
				res = "failing"
			}
			shown[name] = res
		}
		results = shown
	}
	parts := make([]string, len(failed))
	for i, name := range failed {
		parts[i] = name + ": " + results[name]
	}
	err := domain.Errorf(domain.EUNAVAILABLE, "%s", strings.Join(parts, "; "))
	err.Extra = map[string]any{"checks": results, "version": s.Version}
	WriteError(w, r, s.log, err)
}

// mayReadDetails reports whether r may see what a failing check said.
func (s *Server) mayReadDetails(r *http.Request) bool {
	tokens := s.tokenSet()
	if len(tokens.tokens) == 0 {
		return true
	}
	v, ok := bearer(r)
	if !ok {
		return false
	}
	t, ok := tokens.lookup(v)
	return ok && t.allows(domain.ScopeRead)
}
