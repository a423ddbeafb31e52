package httpapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/backupd/backupd/internal/domain"
)

// Download links let a browser download an archive through a plain link,
// which cannot carry an Authorization header, so that the browser streams
// it to disk (and can resume it) instead of holding it in memory. A link
// opens one backup's archive, read-only, until it expires; it is signed
// with a key the daemon draws at start, so a restart also ends every link.
// With no tokens configured links still work, and are not needed.

// linkTTL is how long a download link stays valid: long enough for a
// browser to resume a large download that broke off.
const linkTTL = time.Hour

// handleArchiveLink answers POST /backups/{id}/archive/link with a link
// to the backup's archive: {"url": "/api/v1/backups/ID/archive?expires=
// UNIX&sig=HEX", "expires_at": TIME}. The url is relative to the server.
func (s *Server) handleArchiveLink(w http.ResponseWriter, r *http.Request) {
	b, err := s.archivedFromPath(r)
	if err != nil {
		WriteError(w, r, s.log, err)
		return
	}
	exp := s.now().Add(linkTTL).Unix()
	WriteJSON(w, http.StatusOK, map[string]any{
		"url":        fmt.Sprintf("/api/v1/backups/%d/archive?expires=%d&sig=%s", b.ID, exp, s.linkSig(b.ID, exp)),
		"expires_at": time.Unix(exp, 0).UTC(),
	})
}

// linkSig is the signature of a link to backup id's archive that expires
// at exp (Unix seconds).
func (s *Server) linkSig(id, exp int64) string {
	m := hmac.New(sha256.New, s.linkKey)
	fmt.Fprintf(m, "archive:%d:%d", id, exp)
	return hex.EncodeToString(m.Sum(nil))
}

// requireTokenOrLink lets a request carrying sig= through when it is a
// valid, unexpired link to the archive in its path, and hands any other to
// requireToken.
func (s *Server) requireTokenOrLink(next http.Handler) http.Handler {
	byToken := s.require(domain.ScopeDownload, false)(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if !q.Has("sig") {
			byToken.ServeHTTP(w, r)
			return
		}
		id, err := pathID(r)
		if err != nil {
			WriteError(w, r, s.log, err)
			return
		}
		exp, err := strconv.ParseInt(q.Get("expires"), 10, 64)
		if err != nil || !hmac.Equal([]byte(q.Get("sig")), []byte(s.linkSig(id, exp))) {
			WriteError(w, r, s.log, domain.Errorf(domain.EUNAUTHORIZED,
				"this download link is not valid (links end when the daemon restarts): get a new one from the dashboard or POST /api/v1/backups/%d/archive/link", id))
			return
		}
		if s.now().Unix() > exp {
			WriteError(w, r, s.log, domain.Errorf(domain.EUNAUTHORIZED,
				"this download link expired at %s: get a new one from the dashboard or POST /api/v1/backups/%d/archive/link",
				time.Unix(exp, 0).UTC().Format(time.RFC3339), id))
			return
		}
		next.ServeHTTP(w, r)
	})
}
