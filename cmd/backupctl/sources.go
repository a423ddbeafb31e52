package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/backupd/backupd/internal/domain"
)

func (a *app) newSourcesCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "sources",
		Short: "List the server's sources: schedule, next run, last success and failure, overdue, retention",
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
			fmt.Fprintln(tw, "NAME\tKIND\tSCHEDULE\tNEXT RUN\tLAST SUCCESS\tLAST FAILURE\tOVERDUE\tLAST\tSTATUS\tRETENTION")
			now := time.Now()
			for _, s := range list {
				last, status := "-", "-"
				if s.Last != nil {
					last, status = fmt.Sprint(s.Last.ID), string(s.Last.Status)
				}
				sched, next := s.Schedule, "-"
				if sched == "" {
					sched = "-"
				}
				if s.NextRun != nil {
					next = s.NextRun.Local().Format("2006-01-02 15:04")
				}
				success, failure, overdue := "-", "-", "-"
				if b := s.LastSuccess; b != nil {
					success = ageOf(now, endedAt(b)) + " ago"
				}
				if b := s.LastFailure; b != nil {
					failure = oneLine(ageOf(now, endedAt(b))+" ago: "+b.Error, maxFailureWidth)
				}
				if s.Overdue && s.OverdueSince != nil {
					overdue = "yes, " + ageOf(now, *s.OverdueSince)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Name, s.Kind, sched, next,
					success, failure, overdue, last, status, s.Retention)
			}
			return tw.Flush()
		},
	}
}

// maxFailureWidth is where sources cuts the last failure's age and error.
const maxFailureWidth = 48

func endedAt(b *domain.Backup) time.Time {
	if b.FinishedAt != nil {
		return *b.FinishedAt
	}
	return b.CreatedAt
}

// ageOf is how long ago t was, in the largest whole unit: 45s, 12m, 3h, 2d.
func ageOf(now, t time.Time) string {
	d := max(now.Sub(t), 0)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}
