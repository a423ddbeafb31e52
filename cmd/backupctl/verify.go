package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/backupd/backupd/internal/domain"
)

func (a *app) newVerifyCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "verify ID",
		Short: "Run a restore drill of a backup on the server and show the outcome",
		Long: `Run a restore drill of a backup on the server: its archive is restored into
scratch space (a temp dir, or a throwaway database on the source's server),
checked against the manifest (file hashes, row counts per table, SQLite's
integrity check) and removed. The outcome is recorded on the backup.

Exits 1 if the drill fails; the reason is printed and kept as verify_error.`,
		Args:              args(cobra.ExactArgs(1)),
		ValidArgsFunction: a.idArg(domain.StatusSucceeded),
		RunE: func(cmd *cobra.Command, argv []string) error {
			id, c, err := a.idClient(argv[0])
			if err != nil {
				return err
			}
			b, err := c.Verify(cmd.Context(), id)
			if err != nil {
				return err
			}
			if err := a.printBackup(b); err != nil {
				return err
			}
			if b.VerifyStatus != "passed" {
				return fmt.Errorf("restore drill of backup %d failed: %s", id, b.VerifyError)
			}
			return nil
		},
	}
}
