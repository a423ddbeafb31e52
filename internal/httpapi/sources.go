package httpapi

import (
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/backupd/backupd/internal/domain"
)

func (s *Server) routesSources(scoped func(scope string) chi.Router) {
	scoped(domain.ScopeRead).Get("/sources", s.handleSourceList)
}

// handleSourceList lists the configured sources with their newest backup,
// their newest success and failure, whether they are overdue, their recent
// history and, for scheduled ones, when the next backup is due.
func (s *Server) handleSourceList(w http.ResponseWriter, r *http.Request) {
	latest, err := s.Catalog.LatestBySource(r.Context())
	if err != nil {
		WriteError(w, r, s.log, err)
		return
	}
	sources := s.sourceList()
	names := make([]string, len(sources))
	for i, src := range sources {
		names[i] = src.Name
	}
	health, err := s.Catalog.SourceHealth(r.Context(), names, domain.HistoryLen)
	if err != nil {
		WriteError(w, r, s.log, err)
		return
	}
	now := s.now()
	out := make([]domain.SourceInfo, 0, len(sources))
	for _, src := range sources {
		if b, ok := latest[src.Name]; ok {
			src.Last = &b
		}
		h := health[src.Name]
		src.LastSuccess, src.LastFailure, src.History = h.LastSuccess, h.LastFailure, h.History
		if src.History == nil {
			src.History = []domain.HistoryPoint{}
		}
		if sch, ok := s.Runner.Schedule(src.Name); ok {
			next := sch.Next.UTC()
			src.NextRun = &next
			src.OverdueSince = overdueSince(sch, h.LastSuccess, now)
			src.Overdue = src.OverdueSince != nil
		}
		out = append(out, src)
	}
	WriteJSON(w, http.StatusOK, out)
}

// minGrace is the least a scheduled backup may be late before its source
// counts as overdue: room for a slow run and a short queue.
const minGrace = 15 * time.Minute

// overdueSince returns when a scheduled source became overdue, or nil if
// it is not: overdue means no success for longer than the schedule's
// interval (from the tick before the next one to the next one, so that a
// weekday schedule on a Sunday allows the whole weekend) plus a grace of a
// tenth of that interval, at least minGrace. A source that never succeeded
// is counted from the start of the schedules: a daemon that just started
// has not missed anything yet.
func overdueSince(sch domain.Schedule, last *domain.Backup, now time.Time) *time.Time {
	interval := sch.Next.Sub(sch.Prev)
	if interval <= 0 || sch.Prev.IsZero() {
		return nil
	}
	from := sch.Since
	if last != nil {
		from = last.CreatedAt
		if last.FinishedAt != nil {
			from = *last.FinishedAt
		}
	}
	due := from.Add(interval + max(interval/10, minGrace)).UTC()
	if now.Before(due) {
		return nil
	}
	return &due
}
