package main

import "testing"

func TestInCLIWords(t *testing.T) {
	cases := []struct{ msg, command, want string }{
		{`no source named "nope"; GET /api/v1/sources lists them`, "backupctl run",
			`no source named "nope"; backupctl sources lists them`},
		{`the token "viewer" lacks the scope "run" that POST /api/v1/backups needs (it has: read)`, "backupctl run",
			`the token "viewer" lacks the scope "run" that backupctl run needs (it has: read)`},
		{`the token "viewer" lacks the scope "read" that GET /api/v1/ws needs (it has: )`, "backupctl tail",
			`the token "viewer" lacks the scope "read" that backupctl tail needs (it has: )`},
		{"see GET /api/v1/backups/12 and POST /api/v1/backups/12/cancel", "backupctl status",
			"see backupctl status ID and backupctl cancel ID"},
		{"POST /api/v1/webhooks/endpoints/3/enable, then /healthz", "backupctl endpoints",
			"backupctl endpoints enable ID, then backupctl health"},
		{"GET /api/v1/nothing is not a route", "backupctl list", "GET /api/v1/nothing is not a route"},
		{"backup 4 of docs failed: exit status 1", "backupctl run", "backup 4 of docs failed: exit status 1"},
	}
	for _, c := range cases {
		if got := inCLIWords(c.msg, c.command); got != c.want {
			t.Errorf("inCLIWords(%q)\n got %q\nwant %q", c.msg, got, c.want)
		}
	}
}
