package main

import (
	"context"
	"strings"
	"testing"

	"github.com/backupd/backupd/internal/testdaemon"
)

// backupctl version prints its own version and the server's from
// /healthz; --version only its own; an unreachable server is said on
// stderr and is not an error.
func TestVersion(t *testing.T) {
	d := testdaemon.Start(t, testdaemon.Options{})
	ctx := context.Background()
	out, errOut, code := d.Backupctl(ctx, "version")
	if code != 0 || out != "backupctl dev\nserver "+d.URL+": backupd dev\n" {
		t.Fatalf("version: exit %d, %q %q", code, out, errOut)
	}
	if out, errOut, code := d.Backupctl(ctx, "--version"); code != 0 || out != "backupctl dev\n" {
		t.Fatalf("--version: exit %d, %q %q", code, out, errOut)
	}
	d.Stop()
	out, errOut, code = d.Backupctl(ctx, "version")
	if code != 0 || out != "backupctl dev\n" || !strings.Contains(errOut, "cannot reach") {
		t.Fatalf("version, server stopped: exit %d, %q %q", code, out, errOut)
	}
}
