package httpapi

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/backupd/backupd/internal/domain"
)

func (s *Server) routesEvents(scoped func(scope string) chi.Router) {
	scoped(domain.ScopeRead).Get("/events", s.handleEventList)
}

// handleEventList pages the events outbox: events with id > since, oldest
// first. The next page is since=<last id>.
func (s *Server) handleEventList(w http.ResponseWriter, r *http.Request) {
	since, err := queryInt(r, "since", 0, 0)
	var limit int64
	if err == nil {
		limit, err = queryInt(r, "limit", domain.DefaultLimit, domain.MaxLimit)
	}
	if err != nil {
		WriteError(w, r, s.log, err)
		return
	}
	evs, err := s.Catalog.ListEvents(r.Context(), since, int(limit))
	if err != nil {
		WriteError(w, r, s.log, err)
		return
	}
	WriteJSON(w, http.StatusOK, map[string]any{"events": evs})
}
