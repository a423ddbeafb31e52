package domain

// Scopes say what a bearer token may do. A token has one or more; admin
// includes every other.
const (
	// ScopeRead reads sources, backups, events, the WebSocket stream,
	// metrics and the details of a failing health check.
	ScopeRead = "read"
	// ScopeRun queues, cancels and verifies backups.
	ScopeRun = "run"
	// ScopeDownload downloads archives and makes download links.
	ScopeDownload = "download"
	// ScopeAdmin does everything, including the outbound webhook
	// endpoints and their deliveries.
	ScopeAdmin = "admin"
)

// Scopes lists every scope, in the order the docs name them.
var Scopes = []string{ScopeRead, ScopeRun, ScopeDownload, ScopeAdmin}

// IsScope reports whether s names a scope.
func IsScope(s string) bool {
	for _, sc := range Scopes {
		if s == sc {
			return true
		}
	}
	return false
}
