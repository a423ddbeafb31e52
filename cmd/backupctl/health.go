package main

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/backupd/backupd/internal/client"
)

func (a *app) newHealthCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "health",
		Short: "Check that the server can take and store backups now",
		Long: `Ask the server's /healthz (no token needed) whether its catalog can be read
and its archive store (directory or bucket) can be written to.

Exit 0 if healthy; 1 if the server answers but cannot store backups now
(the message says what failed); 3 if it cannot be reached. Fit for a
monitoring check or a container's HEALTHCHECK.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			h, err := c.Health(cmd.Context())
			var apiErr *client.APIError
			if errors.As(err, &apiErr) && apiErr.Status == http.StatusServiceUnavailable {
				return fmt.Errorf("the server cannot store backups now: %s", apiErr.Detail)
			}
			if err != nil {
				return err
			}
			if a.output == "json" {
				return a.printJSON(toHealthJSON(h))
			}
			var parts []string
			for _, name := range slices.Sorted(maps.Keys(h.Checks)) {
				parts = append(parts, name+" "+h.Checks[name])
			}
			a.printf("healthy (backupd %s): %s\n", h.Version, strings.Join(parts, ", "))
			return nil
		},
	}
}
