package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"slices"
	"strings"

	"github.com/backupd/backupd/internal/domain"
)

// Token is one configured bearer token: what it is called in logs, its
// value, and the scopes (domain.Scopes) it grants.
type Token struct {
	Name   string
	Value  string
	Scopes []string
}

// allows reports whether t grants scope; admin grants every scope, and
// every token grants "" (any valid token).
func (t *Token) allows(scope string) bool {
	return scope == "" || slices.Contains(t.Scopes, domain.ScopeAdmin) || slices.Contains(t.Scopes, scope)
}

// tokenSet holds the tokens by the SHA-256 of their values, so that a
// comparison costs the same whatever the length of what was sent and of
// what is configured.
type tokenSet struct {
	tokens []Token
	sums   [][sha256.Size]byte
}

func newTokenSet(tokens []Token) tokenSet {
	ts := tokenSet{tokens: tokens}
	for _, t := range tokens {
		ts.sums = append(ts.sums, sha256.Sum256([]byte(t.Value)))
	}
	return ts
}

// lookup returns the token whose value is v, comparing against every
// configured token in constant time, so that timing tells nothing about
// which token, or how much of one, matched.
func (ts tokenSet) lookup(v string) (*Token, bool) {
	got := sha256.Sum256([]byte(v))
	found := -1
	for i, sum := range ts.sums {
		eq := subtle.ConstantTimeCompare(got[:], sum[:])
		found = subtle.ConstantTimeSelect(eq, i, found)
	}
	if found < 0 {
		return nil, false
	}
	return &ts.tokens[found], true
}

type tokenKey struct{}

// TokenName returns the name of the token the request was let in with, ""
// when it carried none (no tokens configured, a download link, a signed
// webhook). Logs name tokens by it, never by value.
func TokenName(ctx context.Context) string {
	if t, ok := ctx.Value(tokenKey{}).(*Token); ok {
		return t.Name
	}
	return ""
}

// require lets a request through only with a configured bearer token that
// grants scope: 401 without a valid token, 403 naming the scope when the
// token lacks it. With no tokens configured it lets everything through:
// the daemon then refuses to listen beyond loopback (see cmd/backupd), and
// the Host check (guard.go) keeps other sites' pages out. allowQuery also
// accepts ?token=, for browsers' WebSocket, which cannot set headers.
func (s *Server) require(scope string, allowQuery bool) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			tokens := s.tokenSet()
			if len(tokens.tokens) == 0 {
				next.ServeHTTP(w, r)
				return
			}
			v, ok := bearer(r)
			if !ok && allowQuery {
				v, ok = r.URL.Query().Get("token"), r.URL.Query().Has("token")
			}
			if !ok {
				challenge(w)
				WriteError(w, r, s.log, domain.Errorf(domain.EUNAUTHORIZED, "this server needs a bearer token: send Authorization: Bearer <token> (backupctl --token or BACKUPD_TOKEN)"))
				return
			}
			t, ok := tokens.lookup(v)
			if !ok {
				s.log.Info("request refused: the bearer token is not one of auth.tokens", "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr)
				challenge(w)
				WriteError(w, r, s.log, domain.Errorf(domain.EUNAUTHORIZED, "the bearer token is not valid for this server"))
				return
			}
			if !t.allows(scope) {
				s.log.Info("request refused: the token lacks a scope", "token", t.Name, "scope", scope, "method", r.Method, "path", r.URL.Path)
				err := domain.Errorf(domain.EFORBIDDEN, "the token %q lacks the scope %q that %s %s needs (it has: %s)", t.Name, scope, r.Method, r.URL.Path, strings.Join(t.Scopes, ", "))
				err.Extra = map[string]any{"scope": scope}
				WriteError(w, r, s.log, err)
				return
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), tokenKey{}, t)))
		})
	}
}

// bearer returns the token of an "Authorization: Bearer" header.
func bearer(r *http.Request) (string, bool) {
	return strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
}

// challenge names the scheme a 401 wants. Signed webhooks answer 401 too,
// but a bearer token would not help them, so WriteError does not add it.
func challenge(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="backupd"`)
}
