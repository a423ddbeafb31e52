package httpapi

import (
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/backupd/backupd/internal/domain"
)

func (s *Server) routesBackups(scoped func(scope string) chi.Router) {
	read, run := scoped(domain.ScopeRead), scoped(domain.ScopeRun)
	run.Post("/backups", s.handleBackupCreate)
	read.Get("/backups", s.handleBackupList)
	read.Get("/backups/{id}", s.handleBackupGet)
	run.Post("/backups/{id}/cancel", s.handleBackupCancel)
	run.Post("/backups/{id}/verify", s.handleBackupVerify)
	scoped(domain.ScopeDownload).Post("/backups/{id}/archive/link", s.handleArchiveLink)
}

// handleBackupVerify runs a restore drill of a backup and answers with the
// backup carrying the drill's outcome (verify_status, verify_error).
func (s *Server) handleBackupVerify(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		WriteError(w, r, s.log, err)
		return
	}
	if s.Verifier == nil {
		WriteError(w, r, s.log, domain.Errorf(domain.EUNAVAILABLE, "restore drills are turned off on this server"))
		return
	}
	b, err := s.Verifier.Verify(r.Context(), id)
	if err != nil {
		WriteError(w, r, s.log, err)
		return
	}
	WriteJSON(w, http.StatusOK, b)
}

// handleBackupCreate queues a backup: 202 with the backup and its Location.
func (s *Server) handleBackupCreate(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Source string `json:"source"`
	}
	if err := DecodeJSON(w, r, 64<<10, &req); err != nil {
		WriteError(w, r, s.log, err)
		return
	}
	if req.Source == "" {
		WriteError(w, r, s.log, domain.Errorf(domain.EINVALID, `request body needs "source": the name of a configured source`))
		return
	}
	if err := checkSourceName(req.Source); err != nil {
		WriteError(w, r, s.log, err)
		return
	}
	b, err := s.Runner.Submit(r.Context(), req.Source)
	if err != nil {
		WriteError(w, r, s.log, err)
		return
	}
	w.Header().Set("Location", "/api/v1/backups/"+strconv.FormatInt(b.ID, 10))
	WriteJSON(w, http.StatusAccepted, b)
}

// handleBackupList lists backups newest first. The next page is asked for
// with before=<smallest id of this page>; next_before says what to send.
func (s *Server) handleBackupList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := domain.BackupFilter{Source: q.Get("source"), Status: domain.Status(q.Get("status"))}
	if f.Source != "" {
		if err := checkSourceName(f.Source); err != nil {
			WriteError(w, r, s.log, err)
			return
		}
	}
	if f.Status != "" && !f.Status.Valid() {
		WriteError(w, r, s.log, domain.Errorf(domain.EINVALID, "status %q is not one of queued, running, succeeded, failed, canceled", f.Status))
		return
	}
	limit, err := queryInt(r, "limit", domain.DefaultLimit, domain.MaxLimit)
	if err == nil {
		f.Before, err = queryInt(r, "before", 0, 0)
	}
	if err != nil {
		WriteError(w, r, s.log, err)
		return
	}
	f.Limit = int(limit)
	list, err := s.Catalog.Backups(r.Context(), f)
	if err != nil {
		WriteError(w, r, s.log, err)
		return
	}
	for i := range list {
		s.addProgress(&list[i])
	}
	resp := map[string]any{"backups": list}
	if len(list) == f.Limit && f.Limit > 0 {
		resp["next_before"] = list[len(list)-1].ID
	}
	WriteJSON(w, http.StatusOK, resp)
}

func (s *Server) handleBackupGet(w http.ResponseWriter, r *http.Request) {
	b, err := s.backupFromPath(r)
	if err != nil {
		WriteError(w, r, s.log, err)
		return
	}
	s.addProgress(&b)
	WriteJSON(w, http.StatusOK, b)
}

func (s *Server) handleBackupCancel(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		WriteError(w, r, s.log, err)
		return
	}
	b, err := s.Runner.Cancel(r.Context(), id)
	if err != nil {
		WriteError(w, r, s.log, err)
		return
	}
	WriteJSON(w, http.StatusAccepted, b)
}

// addProgress fills in the bytes read so far by a running backup, which
// the runner keeps in memory rather than writing to the catalog per tick.
func (s *Server) addProgress(b *domain.Backup) {
	if b.Status == domain.StatusRunning {
		if n, ok := s.Runner.BytesDone(b.ID); ok {
			b.BytesDone = n
		}
	}
}
