package main

import (
	"github.com/spf13/cobra"

	"github.com/backupd/backupd/internal/domain"
)

func (a *app) newListCmd() *cobra.Command {
	var f domain.BackupFilter
	var status string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List backups, newest first",
		Long: `List backups, newest first, a page at a time (--limit); the next page is
--before the id printed at the end (-o json: "next_before").

The ERROR column shows why a backup failed, cut to 60 characters;
backupctl status ID shows all of it. Sizes are in IEC units (KiB, MiB,
GiB).`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			f.Status = domain.Status(status)
			if status != "" && !f.Status.Valid() {
				return usageErrorf("--status must be one of queued, running, succeeded, failed, canceled")
			}
			if f.Limit < 1 || f.Limit > domain.MaxLimit {
				return usageErrorf("--limit must be from 1 to %d", domain.MaxLimit)
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			list, next, err := c.Backups(cmd.Context(), f)
			if err != nil {
				return err
			}
			return a.printBackups(list, next)
		},
	}
	cmd.Flags().StringVar(&f.Source, "source", "", "only this source")
	cmd.Flags().StringVar(&status, "status", "", "only this status")
	cmd.Flags().IntVar(&f.Limit, "limit", 20, "at most this many")
	cmd.Flags().Int64Var(&f.Before, "before", 0, "only backups with a smaller id (the next page)")
	cmd.RegisterFlagCompletionFunc("source", a.sourceFlag)
	cmd.RegisterFlagCompletionFunc("status", fixed(statusNames...))
	return cmd
}
