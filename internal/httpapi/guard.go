package httpapi

import (
	"mime"
	"net"
	"net/http"
	"strings"

	"github.com/backupd/backupd/internal/domain"
)

// The checks every request passes before any route sees it, in this order
// (Handler): the Host it names, then whether a browser sent it from another
// site. Tokens and scopes are checked per route (auth.go), and JSON bodies
// per route group (requireJSON).

// securityHeaders are sent with every answer. The dashboard loads its
// scripts and styles from its own origin only and must not be framed (its
// Run buttons could be clickjacked); API answers are never to be sniffed
// into something else.
var securityHeaders = map[string]string{
	"Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
		"connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
	"X-Content-Type-Options": "nosniff",
	"X-Frame-Options":        "DENY",
	"Referrer-Policy":        "no-referrer",
}

func withSecurityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		for k, v := range securityHeaders {
			h.Set(k, v)
		}
		next.ServeHTTP(w, r)
	})
}

// checkHost refuses, with 421, a request whose Host is not a name this
// daemon serves, when no tokens are configured. A tokenless daemon listens
// on loopback only, but a page on any site can make the browser reach it
// under the site's own name (DNS rebinding) and read the answers as same
// origin; only the Host header gives that away. With tokens, such a page
// has no token to send.
func (s *Server) checkHost(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(s.tokenSet().tokens) == 0 && !s.servesHost(r.Host) {
			WriteError(w, r, s.log, domain.Errorf(domain.EMISDIRECTED,
				"this daemon does not serve the host %q: use 127.0.0.1 or localhost, or add the name to allowed_hosts in the config", r.Host))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// servesHost reports whether hostport (a Host header) names this daemon:
// a loopback name or address, the listen address, or one of AllowedHosts
// (a name, or name:port).
func (s *Server) servesHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	if host == "" {
		return false
	}
	lower := strings.ToLower(host)
	if lower == "localhost" || strings.HasSuffix(lower, ".localhost") {
		return true // RFC 6761: always loopback
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return true
	}
	for _, a := range s.AllowedHosts {
		if strings.EqualFold(a, host) || strings.EqualFold(a, hostport) {
			return true
		}
	}
	return false
}

// crossOrigin refuses state-changing requests that a browser sent from
// another site (Fetch metadata, else Origin against Host), whether or not
// tokens are configured: a form or a fetch from any page the operator
// visits must not start or cancel backups. Requests without those headers
// (backupctl, curl, webhook senders) are not a browser's and pass.
func (s *Server) crossOrigin() func(http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	for _, o := range s.TrustedOrigins {
		// Validated by config; a bad one is skipped, not trusted.
		_ = cop.AddTrustedOrigin(strings.TrimRight(o, "/"))
	}
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		WriteError(w, r, s.log, domain.Errorf(domain.EFORBIDDEN,
			"cross-site %s refused: a page of another site (Origin %q) may not change anything here", r.Method, r.Header.Get("Origin")))
	}))
	return cop.Handler
}

// requireJSON refuses a request that carries a body, or says it does,
// unless the body is application/json: the JSON API reads nothing else,
// and a browser can send text/plain or a form cross-site without asking.
func (s *Server) requireJSON(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			next.ServeHTTP(w, r)
			return
		}
		ct := r.Header.Get("Content-Type")
		if ct == "" && r.ContentLength == 0 {
			next.ServeHTTP(w, r) // no body at all: POST .../cancel
			return
		}
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			WriteError(w, r, s.log, domain.Errorf(domain.EUNSUPPORTED,
				"the request body must be application/json, got Content-Type %q", ct))
			return
		}
		next.ServeHTTP(w, r)
	})
}
