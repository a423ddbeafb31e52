package main

import (
	"strconv"

	"github.com/spf13/cobra"
)

func (a *app) newStatusCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "status ID",
		Short: "Show one backup",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			id, err := parseID(argv[0])
			if err != nil {
				return err
			}
			c, err := a.client()
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

func parseID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, usageErrorf("backup id %q must be a positive integer (see backupctl list)", s)
	}
	return id, nil
}
