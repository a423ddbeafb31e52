package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func (a *app) newSourcesCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "sources",
		Short: "List the server's sources: schedule, next run, last backup, retention",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			list, err := c.Sources(cmd.Context())
			if err != nil {
				return err
			}
			if a.output == "json" {
				return a.printJSON(toSourcesJSON(list))
			}
			tw := a.table()
			fmt.Fprintln(tw, "NAME\tKIND\tSCHEDULE\tNEXT\tLAST\tSTATUS\tWHEN\tRETENTION")
			for _, s := range list {
				last, status, when := "-", "-", "-"
				if s.Last != nil {
					last, status = fmt.Sprint(s.Last.ID), string(s.Last.Status)
					when = s.Last.CreatedAt.Local().Format("2006-01-02 15:04")
				}
				sched, next := s.Schedule, "-"
				if sched == "" {
					sched = "-"
				}
				if s.NextRun != nil {
					next = s.NextRun.Local().Format("2006-01-02 15:04")
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Name, s.Kind, sched, next, last, status, when, s.Retention)
			}
			return tw.Flush()
		},
	}
}
