package httpapi

import (
	"net/http"

	"github.com/go-chi/chi/v5"
)

func (s *Server) routesSources(r chi.Router) {
	r.Get("/sources", s.handleSourceList)
}

// handleSourceList lists the configured sources with their newest backup.
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
		out = append(out, src)
	}
	WriteJSON(w, http.StatusOK, out)
}
