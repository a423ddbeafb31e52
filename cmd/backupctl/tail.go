package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/backupd/backupd/internal/client"
	"github.com/backupd/backupd/internal/domain"
)

func (a *app) newTailCmd() *cobra.Command {
	var (
		since    int64
		sources  []string
		types    []string
		progress bool
	)
	cmd := &cobra.Command{
		Use:   "tail",
		Short: "Print events as they happen",
		Long: `Print the server's events as they happen, one per line (-o json: one JSON
object per line). --since N first prints every stored event after id N.

On a lost connection tail reconnects with backoff and resumes after the last
event it printed, so a daemon restart loses nothing. Progress ticks of
running backups are live only and not stored; --progress shows them.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if since < -1 {
				return usageErrorf("--since must be an event id (0 for everything)")
			}
			for _, s := range sources {
				if !domain.ValidName(s) {
					return usageErrorf("--source %q is not a valid source name", s)
				}
			}
			for _, t := range types {
				if !domain.IsEventType(t) {
					return usageErrorf("--type %q is not an event type; known: %s", t, strings.Join(domain.EventTypes, ", "))
				}
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			return c.Tail(cmd.Context(), client.TailOptions{
				Since: since, Sources: sources, Types: types,
				OnReconnect: func(err error, wait time.Duration) {
					fmt.Fprintf(a.stderr, "backupctl: %v; reconnecting in %s\n", err, wait.Round(time.Millisecond))
				},
			}, func(ev domain.Event) error {
				if ev.Type == domain.EventBackupProgress && !progress {
					return nil
				}
				return a.printEvent(ev)
			})
		},
	}
	cmd.Flags().Int64Var(&since, "since", -1, "print stored events after this id first (0: all)")
	cmd.Flags().StringSliceVar(&sources, "source", nil, "only these sources (repeat or comma-separate)")
	cmd.Flags().StringSliceVar(&types, "type", nil, "only these event types, e.g. backup.failed")
	cmd.Flags().BoolVar(&progress, "progress", false, "also print progress ticks of running backups")
	cmd.RegisterFlagCompletionFunc("source", a.sourceFlag)
	cmd.RegisterFlagCompletionFunc("type", fixed(domain.EventTypes...))
	return cmd
}

func (a *app) printEvent(ev domain.Event) error {
	if a.output == "json" {
		return json.NewEncoder(a.stdout).Encode(toEventJSON(ev))
	}
	id := fmt.Sprint(ev.ID)
	if ev.Ephemeral {
		id = "-"
	}
	a.printf("%-6s %s  %-17s %-12s %s\n", id, ev.Time.Local().Format("2006-01-02 15:04:05"), ev.Type, ev.Source, eventDetail(ev))
	return nil
}

// eventDetail is the part of an event a person wants on the same line.
func eventDetail(ev domain.Event) string {
	var d struct {
		ID        int64         `json:"id"`
		Status    domain.Status `json:"status"`
		SizeBytes int64         `json:"size_bytes"`
		BytesDone int64         `json:"bytes_done"`
		Error     string        `json:"error"`
		Text      string        `json:"text"`
		Verify    string        `json:"verify_status"`
	}
	if json.Unmarshal(ev.Data, &d) != nil {
		return string(ev.Data)
	}
	switch {
	case ev.Type == domain.EventMessage:
		return d.Text
	case ev.Type == domain.EventBackupProgress:
		return fmt.Sprintf("backup %d: %s read", d.ID, humanBytes(d.BytesDone))
	case ev.Type == domain.EventBackupExpired:
		return fmt.Sprintf("backup %d: archive removed by retention", d.ID)
	case d.Error != "":
		return fmt.Sprintf("backup %d %s: %s", d.ID, d.Status, d.Error)
	case d.Status == domain.StatusSucceeded:
		s := fmt.Sprintf("backup %d succeeded, %s", d.ID, humanBytes(d.SizeBytes))
		if d.Verify != "" {
			s += ", drill " + d.Verify
		}
		return s
	}
	return fmt.Sprintf("backup %d %s", d.ID, d.Status)
}
