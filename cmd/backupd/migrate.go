package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/backupd/backupd/internal/catalog"
	"github.com/backupd/backupd/internal/lockfile"
	"github.com/backupd/backupd/migrations"
)

func newMigrateCmd() *cobra.Command {
	var flags configFlags
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply catalog migrations and exit (serve also applies them at start)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := flags.load()
			if err != nil {
				return err
			}
			lock, err := lockfile.Acquire(cfg.DataDir)
			if err != nil {
				return err
			}
			defer lock.Release()
			db, err := catalog.Open(cmd.Context(), cfg.CatalogPath(), migrations.FS)
			if err != nil {
				return err
			}
			defer db.Close()
			names, err := db.Migrations(cmd.Context())
			if err != nil {
				return err
			}
			for _, n := range names {
				fmt.Fprintln(cmd.OutOrStdout(), "applied", n)
			}
			return nil
		},
	}
	flags.register(cmd, true)
	return cmd
}
