package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/backupd/backupd/internal/webhook"
)

func (a *app) newEndpointsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "endpoints",
		Short: "List the outbound webhook endpoints and whether each is disabled",
		Long: `List the outbound webhook endpoints of webhooks.outbound with their ids,
the events each is sent, and whether it is disabled: an endpoint that
answers 410 Gone is sent nothing more until it is enabled again with
"backupctl endpoints enable ID".`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			list, err := c.Endpoints(cmd.Context())
			if err != nil {
				return err
			}
			if a.output == "json" {
				return a.printJSON(mapAll(list, toEndpointJSON))
			}
			tw := a.table()
			fmt.Fprintln(tw, "ID\tURL\tEVENTS\tSTATE")
			for _, e := range list {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", e.ID, e.URL, strings.Join(e.Events, ","), endpointState(e))
			}
			return tw.Flush()
		},
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "enable ID",
		Short: "Send to an endpoint again after it answered 410 Gone",
		Long: `Send to an outbound endpoint again after it answered 410 Gone. Events from
now on are delivered to it; the deliveries canceled when it was disabled
stay canceled.`,
		Args:              args(cobra.ExactArgs(1)),
		ValidArgsFunction: a.endpointArg,
		RunE: func(cmd *cobra.Command, argv []string) error {
			id, err := strconv.ParseInt(argv[0], 10, 64)
			if err != nil || id <= 0 {
				return usageErrorf("endpoint ID must be a positive integer (see backupctl endpoints), not %q", argv[0])
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			e, err := c.EnableEndpoint(cmd.Context(), id)
			if err != nil {
				return err
			}
			if a.output == "json" {
				return a.printJSON(toEndpointJSON(e))
			}
			a.printf("endpoint %d (%s) is enabled\n", e.ID, e.URL)
			return nil
		},
	})
	return cmd
}

func endpointState(e webhook.EndpointStatus) string {
	if e.DisabledAt == nil {
		return "enabled"
	}
	s := "disabled " + e.DisabledAt.Local().Format("2006-01-02 15:04")
	if e.DisabledReason != "" {
		s += ": " + e.DisabledReason
	}
	return s
}
