package main

import (
	"fmt"
	"log/slog"

	"github.com/spf13/cobra"
)

func newConfigCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Work with the configuration"}
	cmd.AddCommand(newConfigCheckCmd())
	return cmd
}

func newConfigCheckCmd() *cobra.Command {
	var flags configFlags
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Validate the configuration without starting",
		Long: `Validate the configuration without starting: errors (exit 1) for what
serve would refuse; warnings for what would make a source's backups fail
if it ran now (a path that does not exist, pg_dump or a command missing
from PATH), and for plain HTTP beyond loopback, which serve logs at start
too. The TLS certificate, if configured, is loaded as serve would.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := flags.load()
			if err != nil {
				return err
			}
			c, err := check(cfg, slog.New(slog.DiscardHandler))
			if err != nil {
				return err
			}
			for _, w := range c.warnings() {
				fmt.Fprintln(cmd.OutOrStdout(), "warning:", w)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "config OK: %d sources, listening on %s, data in %s\n", len(c.specs), cfg.Listen, cfg.DataDir)
			return nil
		},
	}
	flags.register(cmd, true)
	return cmd
}
