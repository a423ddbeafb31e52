// Command backupctl is the command-line client of backupd: trigger a
// backup, follow it, download and verify its archive, list the catalog.
//
// Exit codes: 0 success; 1 the operation failed (the backup failed or was
// canceled, the archive did not verify, the server refused the request);
// 2 usage error; 3 cannot reach or authenticate to the server; 130 and 143
// stopped by SIGINT (Ctrl-C) and SIGTERM.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/backupd/backupd/internal/buildinfo"
)

func main() {
	version = buildinfo.Version(version)
	ctx, stopped := withSignals(context.Background())
	app := &app{stdout: os.Stdout, stderr: os.Stderr}
	root := app.newRootCmd()
	cmd, err := root.ExecuteContextC(ctx)
	err = explainUnreachable(explainTLS(err))
	code := app.exitCode(err)
	if sig, ok := stopped(); ok {
		// What was running has wound down (temp files removed, partial
		// downloads kept for a resume): the exit code says why it ended.
		code = signalExit(sig)
		switch {
		case errors.Is(err, context.Canceled):
			err = errors.New(sigName(sig))
		case err != nil:
			err = fmt.Errorf("%w (%s)", err, sigName(sig))
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "backupctl:", inCLIWords(err.Error(), cmd.CommandPath()))
	}
	os.Exit(code)
}
