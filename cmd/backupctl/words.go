package main

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/backupd/backupd/internal/client"
)

// explainUnreachable adds what to check when no connection to the server
// could be made at all: the address, and whether the daemon runs.
func explainUnreachable(err error) error {
	var ue *client.UnreachableError
	if errors.As(err, &ue) && ue.NoConnection() {
		return fmt.Errorf("%w; check --server (or BACKUPD_URL) and that the daemon runs (backupd serve)", err)
	}
	return err
}

// apiCommands names the backupctl command for each REST route a server
// message may mention, most specific first: a person at the command line
// acts on "backupctl sources", not on "GET /api/v1/sources".
var apiCommands = []struct {
	method string // "" for any
	path   *regexp.Regexp
	cmd    string
}{
	{"", regexp.MustCompile(`^/api/v1/backups/\d+/cancel$`), "backupctl cancel ID"},
	{"", regexp.MustCompile(`^/api/v1/backups/\d+/verify$`), "backupctl verify ID"},
	{"", regexp.MustCompile(`^/api/v1/backups/\d+/archive(/link)?$`), "backupctl download ID"},
	{"", regexp.MustCompile(`^/api/v1/backups/\d+$`), "backupctl status ID"},
	{"POST", regexp.MustCompile(`^/api/v1/backups$`), "backupctl run SOURCE"},
	{"", regexp.MustCompile(`^/api/v1/backups$`), "backupctl list"},
	{"", regexp.MustCompile(`^/api/v1/sources$`), "backupctl sources"},
	{"", regexp.MustCompile(`^/api/v1/(events|ws)$`), "backupctl tail"},
	{"", regexp.MustCompile(`^/api/v1/webhooks/endpoints/\d+/enable$`), "backupctl endpoints enable ID"},
	{"", regexp.MustCompile(`^/api/v1/webhooks/endpoints$`), "backupctl endpoints"},
	{"", regexp.MustCompile(`^/healthz$`), "backupctl health"},
}

var (
	// "the token "ci" lacks the scope "run" that POST /api/v1/backups needs"
	routeNeeds = regexp.MustCompile(`(?:\b(?:GET|POST|PUT|PATCH|DELETE) )?(?:/api/v1/[^\s,;:)]*|/healthz) needs\b`)
	route      = regexp.MustCompile(`(?:\b(?:GET|POST|PUT|PATCH|DELETE) )?(?:/api/v1/[^\s,;:)?]*|/healthz)`)
)

// inCLIWords rewrites the REST routes a message names into the backupctl
// commands that do the same; what "needs" something is the command that
// ran (command, such as "backupctl run"). A route with no command is left.
func inCLIWords(msg, command string) string {
	msg = routeNeeds.ReplaceAllString(msg, command+" needs")
	return route.ReplaceAllStringFunc(msg, func(m string) string {
		method, path, ok := strings.Cut(m, " ")
		if !ok {
			method, path = "", m
		}
		for _, c := range apiCommands {
			if (c.method == "" || c.method == method) && c.path.MatchString(path) {
				return c.cmd
			}
		}
		return m
	})
}
