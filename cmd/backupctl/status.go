package main

import (
	"strconv"

	"github.com/spf13/cobra"

	"github.com/backupd/backupd/internal/client"
)

func (a *app) newStatusCmd() *cobra.Command {
	return &cobra.Command{
		Use:               "status ID",
		Short:             "Show one backup",
		Args:              args(cobra.ExactArgs(1)),
		ValidArgsFunction: a.idArg(),
		RunE: func(cmd *cobra.Command, argv []string) error {
			id, c, err := a.idClient(argv[0])
			if err != nil {
				return err
			}
			b, err := c.Backup(cmd.Context(), id)
			if err != nil {
				return err
			}
			return a.printBackup(b)
		},
	}
}

// idClient parses a backup id argument and makes the API client: the
// preamble of every command that acts on one backup.
func (a *app) idClient(arg string) (int64, *client.Client, error) {
	id, err := parseID(arg)
	if err != nil {
		return 0, nil, err
	}
	c, err := a.client()
	return id, c, err
}

func parseID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, usageErrorf("backup id %q must be a positive integer (see backupctl list)", s)
	}
	return id, nil
}
