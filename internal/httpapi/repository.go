package httpapi

import (
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/backupd/backupd/internal/domain"
)

func (s *Server) routesRepository(scoped func(scope string) chi.Router) {
	scoped(domain.ScopeRead).Get("/backups/{id}/tree", s.handleBackupTree)
	admin := scoped(domain.ScopeAdmin)
	admin.Post("/repository/prune", s.handleRepositoryPrune)
	admin.Post("/repository/check", s.handleRepositoryCheck)
}

func (s *Server) repository() (Repository, error) {
	if s.Repository == nil {
		return nil, domain.Errorf(domain.EUNAVAILABLE, "this server has no repository open")
	}
	return s.Repository, nil
}

// handleBackupTree lists a repository backup's tree at ?path= (the root
// by default): {"path", "entries": [{name, path, type, size, mode, mtime,
// link}]}.
func (s *Server) handleBackupTree(w http.ResponseWriter, r *http.Request) {
	b, err := s.archivedFromPath(r)
	if err != nil {
		WriteError(w, r, s.log, err)
		return
	}
	if b.Snapshot == "" {
		WriteError(w, r, s.log, domain.Errorf(domain.ECONFLICT, "backup %d is a tar.zst archive made before the repository: download it to see what it holds (GET /api/v1/backups/%d/archive)", b.ID, b.ID))
		return
	}
	x, err := s.repository()
	if err != nil {
		WriteError(w, r, s.log, err)
		return
	}
	dir := r.URL.Query().Get("path")
	entries, err := x.Tree(r.Context(), b, dir)
	if err != nil {
		WriteError(w, r, s.log, err)
		return
	}
	WriteJSON(w, http.StatusOK, map[string]any{"backup_id": b.ID, "path": dir, "entries": entries})
}

// handleRepositoryPrune runs prune now and answers with its outcome.
func (s *Server) handleRepositoryPrune(w http.ResponseWriter, r *http.Request) {
	x, err := s.repository()
	if err != nil {
		WriteError(w, r, s.log, err)
		return
	}
	res, err := x.Prune(r.Context())
	if err != nil {
		WriteError(w, r, s.log, err)
		return
	}
	WriteJSON(w, http.StatusOK, res)
}

// handleRepositoryCheck checks the repository (?read_data=true: every
// blob too) and answers with what it found; problems are a 200 with ok
// false, not an error of the request.
func (s *Server) handleRepositoryCheck(w http.ResponseWriter, r *http.Request) {
	x, err := s.repository()
	if err != nil {
		WriteError(w, r, s.log, err)
		return
	}
	readData := false
	if raw := r.URL.Query().Get("read_data"); raw != "" {
		if readData, err = strconv.ParseBool(raw); err != nil {
			WriteError(w, r, s.log, domain.Errorf(domain.EINVALID, "read_data=%q is not true or false", raw))
			return
		}
	}
	res, err := x.Check(r.Context(), readData)
	if err != nil {
		WriteError(w, r, s.log, err)
		return
	}
	WriteJSON(w, http.StatusOK, res)
}
