package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=..."; if
// it was not, main puts the module version of a go install'd binary here.
var version = "dev"

func (a *app) newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print this client's version, and the server's if it answers",
		Long: `Print backupctl's version and, if the server answers its /healthz (no token
needed) within a few seconds, the server's. An unreachable server is
said on stderr and is not an error: the client's version is the answer.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			var server string
			var serverErr error
			c, err := a.client()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 3*time.Second)
			defer cancel()
			if h, err := c.Health(ctx); err == nil {
				server = h.Version
			} else {
				serverErr = err
			}
			if a.output == "json" {
				out := map[string]string{"client": version}
				if server != "" {
					out["server"] = server
				}
				return a.printJSON(out)
			}
			a.printf("backupctl %s\n", version)
			if server != "" {
				a.printf("server %s: backupd %s\n", a.server, server)
			} else {
				fmt.Fprintf(a.stderr, "server %s: no version: %v\n", a.server, serverErr)
			}
			return nil
		},
	}
}
