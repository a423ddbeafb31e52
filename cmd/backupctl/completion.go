package main

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/backupd/backupd/internal/client"
	"github.com/backupd/backupd/internal/domain"
	"github.com/backupd/backupd/internal/webhook"
)

// Shell completion asks the server, as the command would (the same
// --server, --token and environment), but briefly: a server that does not
// answer in time gets no suggestions rather than a hung shell.
const completionTimeout = 2 * time.Second

// complete runs fn with a client of the server, or offers nothing when
// there is none.
func (a *app) complete(cmd *cobra.Command, fn func(k completer, ctx context.Context) []cobra.Completion) ([]cobra.Completion, cobra.ShellCompDirective) {
	// Completion skips PersistentPreRunE, where the environment is read.
	a.fromEnv(cmd.Flags().Changed)
	c, err := a.client()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	ctx, cancel := context.WithTimeout(context.Background(), completionTimeout)
	defer cancel()
	return fn(completer{c}, ctx), cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveKeepOrder
}

type completer struct{ c *client.Client }

// sources are the server's source names, with their kind and schedule.
func (k completer) sources(ctx context.Context) []cobra.Completion {
	list, err := k.c.Sources(ctx)
	if err != nil {
		cobra.CompDebugln(err.Error(), false)
		return nil
	}
	out := make([]cobra.Completion, 0, len(list))
	for _, s := range list {
		desc := s.Kind
		if s.Schedule != "" {
			desc += ", " + s.Schedule
		}
		out = append(out, cobra.CompletionWithDesc(s.Name, desc))
	}
	return out
}

// completionIDs is how many backup ids are offered: the newest.
const completionIDs = 50

// backups are backup ids, newest first, described by source, status and
// time; only those in one of statuses, if any are given.
func (k completer) backups(ctx context.Context, statuses ...domain.Status) []cobra.Completion {
	var list []domain.Backup
	if len(statuses) == 0 {
		statuses = []domain.Status{""}
	}
	for _, st := range statuses {
		page, _, err := k.c.Backups(ctx, domain.BackupFilter{Status: st, Limit: completionIDs})
		if err != nil {
			cobra.CompDebugln(err.Error(), false)
			return nil
		}
		list = append(list, page...)
	}
	// Pages of several statuses, merged newest first.
	slices.SortFunc(list, func(x, y domain.Backup) int { return cmp.Compare(y.ID, x.ID) })
	out := make([]cobra.Completion, 0, len(list))
	for _, b := range list[:min(len(list), completionIDs)] {
		desc := fmt.Sprintf("%s %s %s", b.Source, b.Status, b.CreatedAt.Local().Format("2006-01-02 15:04"))
		out = append(out, cobra.CompletionWithDesc(strconv.FormatInt(b.ID, 10), desc))
	}
	return out
}

// sourceArg completes a command's one SOURCE argument.
func (a *app) sourceArg(cmd *cobra.Command, argv []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(argv) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return a.complete(cmd, completer.sources)
}

// sourceFlag completes a --source flag.
func (a *app) sourceFlag(cmd *cobra.Command, _ []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
	return a.complete(cmd, completer.sources)
}

// idArg returns a completion of a command's one backup ID argument, among
// the backups in statuses (any, if none is given).
func (a *app) idArg(statuses ...domain.Status) cobra.CompletionFunc {
	return func(cmd *cobra.Command, argv []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(argv) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return a.complete(cmd, func(k completer, ctx context.Context) []cobra.Completion {
			return k.backups(ctx, statuses...)
		})
	}
}

// endpointArg completes endpoints enable's ID, the disabled endpoints
// first.
func (a *app) endpointArg(cmd *cobra.Command, argv []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(argv) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return a.complete(cmd, func(k completer, ctx context.Context) []cobra.Completion {
		list, err := k.c.Endpoints(ctx)
		if err != nil {
			cobra.CompDebugln(err.Error(), false)
			return nil
		}
		disabled := func(e webhook.EndpointStatus) int {
			if e.DisabledAt != nil {
				return 0
			}
			return 1
		}
		slices.SortStableFunc(list, func(x, y webhook.EndpointStatus) int { return cmp.Compare(disabled(x), disabled(y)) })
		var out []cobra.Completion
		for _, e := range list {
			out = append(out, cobra.CompletionWithDesc(strconv.FormatInt(e.ID, 10), e.URL+" "+endpointState(e)))
		}
		return out
	})
}

// fixed completes a flag from a fixed list.
func fixed(values ...string) cobra.CompletionFunc {
	return cobra.FixedCompletions(values, cobra.ShellCompDirectiveNoFileComp)
}

var statusNames = []string{string(domain.StatusQueued), string(domain.StatusRunning), string(domain.StatusSucceeded), string(domain.StatusFailed), string(domain.StatusCanceled)}
