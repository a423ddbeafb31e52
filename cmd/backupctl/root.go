package main

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/backupd/backupd/internal/client"
)

const exitCodesHelp = `Exit codes:
  0  success
  1  the operation failed: the backup failed or was canceled, the archive
     did not verify, or the server refused the request
  2  usage error
  3  cannot reach or authenticate to the server`

// app holds the global flags and where output goes.
type app struct {
	server string
	token  string
	output string

	stdout, stderr io.Writer
	// ran is set once a command's own code starts: errors before that are
	// cobra's (unknown command or flag, wrong arguments), i.e. usage errors.
	ran bool
}

func (a *app) newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "backupctl",
		Short: "Control a backupd server",
		Long: `backupctl triggers backups on a backupd server, follows them, downloads and
verifies their archives, and lists the catalog.

` + exitCodesHelp,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if a.output != "table" && a.output != "json" {
				return usageErrorf("-o must be table or json, not %q", a.output)
			}
			a.ran = true
			return nil
		},
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageErrorf("%v", err) })
	pf := root.PersistentFlags()
	pf.StringVar(&a.server, "server", envOr("BACKUPD_URL", "http://127.0.0.1:8080"), "server URL (env BACKUPD_URL)")
	pf.StringVar(&a.token, "token", os.Getenv("BACKUPD_TOKEN"), "bearer token (env BACKUPD_TOKEN)")
	pf.StringVarP(&a.output, "output", "o", "table", "output format: table or json")
	root.AddCommand(a.newSourcesCmd(), a.newRunCmd(), a.newStatusCmd(), a.newListCmd(),
		a.newDownloadCmd(), a.newCancelCmd(), a.newTailCmd(), a.newRestoreCmd(), a.newVerifyCmd(), a.newEndpointsCmd(), a.newSyncCmd(), a.newHealthCmd())
	return root
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func (a *app) client() (*client.Client, error) {
	c, err := client.New(a.server, a.token)
	if err != nil {
		return nil, usageErrorf("--server: %v", err)
	}
	return c, nil
}

func (a *app) printf(format string, args ...any) { fmt.Fprintf(a.stdout, format, args...) }
