package main

import (
	"github.com/spf13/cobra"
)

func (a *app) newPruneCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "prune",
		Short: "Prune the server's repository now: delete the packs no backup needs",
		Long: `Prune the server's repository now, as it does after every successful backup.
A pack no snapshot needs is first marked, then deleted by a later prune
once the safety margin (repository.prune_margin) has passed and no backup
that began before the mark is still running; leftovers of crashed
backups are deleted once older than the margin. So a prune right after
retention expired a backup may only mark its packs.

Needs a token with the admin scope.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			res, err := c.Prune(cmd.Context())
			if err != nil {
				return err
			}
			if a.output == "json" {
				return a.printJSON(pruneJSON(res))
			}
			a.printf("marked %d packs no backup needs (deleted by a later prune)\n", res.Marked)
			a.printf("deleted %d packs and %d leftovers of crashed backups, reclaimed %s\n", res.Deleted, res.Orphans, humanBytes(res.BytesFreed))
			a.printf("the repository holds %s of packs\n", humanBytes(res.RepositoryBytes))
			return nil
		},
	}
}
