package httpapi

import (
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/backupd/backupd/internal/domain"
)

// pathID reads the {id} URL parameter: a positive integer, nothing else, so
// that "../x" or "1;rm" never reach storage.
func pathID(r *http.Request) (int64, error) {
	raw := chi.URLParam(r, "id")
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id <= 0 {
		return 0, domain.Errorf(domain.EINVALID, "id %q in the path is not a positive integer", raw)
	}
	return id, nil
}

// backupFromPath loads the backup named by the {id} URL parameter.
func (s *Server) backupFromPath(r *http.Request) (domain.Backup, error) {
	id, err := pathID(r)
	if err != nil {
		return domain.Backup{}, err
	}
	return s.Catalog.Backup(r.Context(), id)
}

// queryInt reads an optional non-negative integer query parameter.
func queryInt(r *http.Request, name string, def, max int64) (int64, error) {
	raw := r.URL.Query().Get(name)
	if raw == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || n < 0 || (max > 0 && n > max) {
		if max > 0 {
			return 0, domain.Errorf(domain.EINVALID, "query parameter %s=%q must be an integer from 0 to %d", name, raw, max)
		}
		return 0, domain.Errorf(domain.EINVALID, "query parameter %s=%q must be a non-negative integer", name, raw)
	}
	return n, nil
}

// checkSourceName refuses names that could not be a source, before they
// reach the catalog or a file name.
func checkSourceName(name string) error {
	if !domain.ValidName(name) {
		return domain.Errorf(domain.EINVALID, "%q is not a valid source name (1-64 letters, digits, '_', '.', '-')", name)
	}
	return nil
}
