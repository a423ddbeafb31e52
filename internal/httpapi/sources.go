package httpapi

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/backupd/backupd/internal/domain"
)

func (s *Server) routesSources(scoped func(scope string) chi.Router) {
	scoped(domain.ScopeRead).Get("/sources", s.handleSourceList)
}

// handleSourceList lists the configured sources with their newest backup
// and, for scheduled ones, when the next is due.
func (s *Server) handleSourceList(w http.ResponseWriter, r *http.Request) {
	latest, err := s.Catalog.LatestBySource(r.Context())
	if err != nil {
		WriteError(w, r, s.log, err)
		return
	}
	out := make([]any, 0, len(s.Sources))
	for _, src := range s.Sources {
		if b, ok := latest[src.Name]; ok {
			src.Last = &b
		}
		if next, ok := s.Runner.NextRun(src.Name); ok {
			next = next.UTC()
			src.NextRun = &next
		}
		out = append(out, src)
	}
	WriteJSON(w, http.StatusOK, out)
}
