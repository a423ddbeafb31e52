// Command backupd is the backup daemon: it runs backups of configured
// sources, takes completion reports by webhook, keeps everything in a SQLite
// catalog and streams events to WebSocket clients.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/backupd/backupd/internal/buildinfo"
	"github.com/backupd/backupd/internal/manpage"
)

// version is set at build time with -ldflags "-X main.version=..."; if
// it was not, main puts the module version of a go install'd binary here.
var version = "dev"

func main() {
	version = buildinfo.Version(version)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	// SIGHUP's default action ends the process at once: a closed terminal
	// or a "systemctl reload" would kill running backups and log nothing.
	// It is caught for the whole run, so no command dies of it: serve
	// reloads its TLS certificate, the others carry on (the buffered
	// channel keeps one, and further ones are dropped, not fatal).
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	if err := newRootCmd(hup).ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "backupd:", err)
		os.Exit(1)
	}
}

// newRootCmd builds the command tree; hup carries SIGHUP to serve (nil:
// never).
func newRootCmd(hup <-chan os.Signal) *cobra.Command {
	root := &cobra.Command{
		Use:           "backupd",
		Short:         "Backup orchestration daemon",
		Version:       version, // --version, as the version command prints it
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetVersionTemplate("backupd {{.Version}}\n")
	root.AddCommand(newServeCmd(hup), newMigrateCmd(), newConfigCmd(), newVersionCmd())
	root.AddCommand(manpage.Command(root))
	return root
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintln(cmd.OutOrStdout(), "backupd", version)
		},
	}
}
