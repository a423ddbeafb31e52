package main

import (
	"github.com/spf13/cobra"

	"github.com/backupd/backupd/internal/domain"
)

func (a *app) newCancelCmd() *cobra.Command {
	return &cobra.Command{
		Use:               "cancel ID",
		Short:             "Cancel a queued or running backup",
		Args:              args(cobra.ExactArgs(1)),
		ValidArgsFunction: a.idArg(domain.StatusQueued, domain.StatusRunning),
		RunE: func(cmd *cobra.Command, argv []string) error {
			id, c, err := a.idClient(argv[0])
			if err != nil {
				return err
			}
			b, err := c.Cancel(cmd.Context(), id)
			if err != nil {
				return err
			}
			if a.output == "json" {
				return a.printJSON(toBackupJSON(b))
			}
			a.printf("backup %d: cancel requested (status %s)\n", b.ID, b.Status)
			return nil
		},
	}
}
