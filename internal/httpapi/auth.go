package httpapi

import (
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/backupd/backupd/internal/domain"
)

// requireToken lets a request through only with one of the configured
// bearer tokens. With no tokens configured it lets everything through: the
// daemon then refuses to listen beyond loopback (see cmd/backupd).
// allowQuery also accepts ?token=, for browsers' WebSocket, which cannot
// set headers.
func (s *Server) requireToken(allowQuery bool) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if len(s.tokens) == 0 {
				next.ServeHTTP(w, r)
				return
			}
			tok, ok := bearer(r)
			if !ok && allowQuery {
				tok, ok = r.URL.Query().Get("token"), r.URL.Query().Has("token")
			}
			if !ok {
				challenge(w)
				WriteError(w, r, s.log, domain.Errorf(domain.EUNAUTHORIZED, "this server needs a bearer token: send Authorization: Bearer <token> (backupctl --token or BACKUPD_TOKEN)"))
				return
			}
			if !s.validToken(tok) {
				challenge(w)
				WriteError(w, r, s.log, domain.Errorf(domain.EUNAUTHORIZED, "the bearer token is not valid for this server"))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// bearer returns the token of an "Authorization: Bearer" header.
func bearer(r *http.Request) (string, bool) {
	return strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
}

// validToken compares against every token in constant time, so that timing
// tells nothing about which token, or how much of it, matched.
func (s *Server) validToken(tok string) bool {
	ok := 0
	for _, t := range s.tokens {
		ok |= subtle.ConstantTimeCompare([]byte(tok), []byte(t))
	}
	return ok == 1
}

// challenge names the scheme a 401 wants. Signed webhooks answer 401 too,
// but a bearer token would not help them, so WriteError does not add it.
func challenge(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="backupd"`)
}
