// Command backupctl is the command-line client of backupd: trigger a
// backup, follow it, download and verify its archive, list the catalog.
//
// Exit codes: 0 success; 1 the operation failed (the backup failed or was
// canceled, the archive did not verify, the server refused the request);
// 2 usage error; 3 cannot reach or authenticate to the server.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/backupd/backupd/internal/buildinfo"
)

func main() {
	version = buildinfo.Version(version)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	app := &app{stdout: os.Stdout, stderr: os.Stderr}
	root := app.newRootCmd()
	err := explainTLS(root.ExecuteContext(ctx))
	if err != nil {
		fmt.Fprintln(os.Stderr, "backupctl:", err)
	}
	os.Exit(app.exitCode(err))
}
