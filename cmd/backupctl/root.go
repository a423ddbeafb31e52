package main

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/backupd/backupd/internal/client"
	"github.com/backupd/backupd/internal/manpage"
)

const exitCodesHelp = `Exit codes:
  0  success
  1  the operation failed: the backup failed or was canceled, the archive
     did not verify, or the server refused the request
  2  usage error
  3  cannot reach or authenticate to the server, or the token lacks the
     scope the command needs
  130, 143  stopped by SIGINT (Ctrl-C) or SIGTERM, after winding down`

// app holds the global flags and where output goes.
type app struct {
	server string
	token  string
	cacert string
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
		Version:       version, // --version: this client's; the version command adds the server's
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			a.fromEnv(cmd.Flags().Changed)
			if a.output != "table" && a.output != "json" {
				return usageErrorf("-o must be table or json, not %q", a.output)
			}
			a.ran = true
			return nil
		},
	}
	root.SetVersionTemplate("backupctl {{.Version}}\n")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageErrorf("%v", err) })
	pf := root.PersistentFlags()
	// No default here is read from the environment: cobra prints
	// defaults in --help, and the token's would be a secret on the
	// screen. fromEnv fills them in at run time.
	pf.StringVar(&a.server, "server", "", "server URL (default $BACKUPD_URL, else "+defaultServer+")")
	pf.StringVar(&a.token, "token", "", "bearer token (default $BACKUPD_TOKEN)")
	pf.StringVar(&a.cacert, "cacert", "", "PEM file of CA certificates to trust for an https server, besides the system's (default $BACKUPD_CACERT)")
	pf.StringVarP(&a.output, "output", "o", "table", "output format: table or json")
	root.AddCommand(a.newSourcesCmd(), a.newRunCmd(), a.newStatusCmd(), a.newListCmd(),
		a.newDownloadCmd(), a.newCancelCmd(), a.newTailCmd(), a.newRestoreCmd(), a.newVerifyCmd(), a.newLsCmd(), a.newPruneCmd(), a.newCheckCmd(), a.newEndpointsCmd(), a.newSyncCmd(), a.newHealthCmd(), a.newVersionCmd())
	root.AddCommand(manpage.Command(root))
	return root
}

const defaultServer = "http://127.0.0.1:8080"

// fromEnv gives each flag not on the command line (changed reports those
// that are) its environment variable's value, if set.
func (a *app) fromEnv(changed func(flag string) bool) {
	for _, f := range []struct {
		flag, env string
		value     *string
	}{{"server", "BACKUPD_URL", &a.server}, {"token", "BACKUPD_TOKEN", &a.token}, {"cacert", "BACKUPD_CACERT", &a.cacert}} {
		if v := os.Getenv(f.env); v != "" && !changed(f.flag) {
			*f.value = v
		}
	}
	if a.server == "" {
		a.server = defaultServer
	}
}

func (a *app) client() (*client.Client, error) {
	var opts []client.Option
	if a.cacert != "" {
		pool, err := client.CertPool(a.cacert)
		if err != nil {
			return nil, usageErrorf("--cacert (or BACKUPD_CACERT): %v", err)
		}
		opts = append(opts, client.WithRootCAs(pool))
	}
	c, err := client.New(a.server, a.token, opts...)
	if err != nil {
		return nil, usageErrorf("--server: %v", err)
	}
	return c, nil
}

func (a *app) printf(format string, args ...any) { fmt.Fprintf(a.stdout, format, args...) }
