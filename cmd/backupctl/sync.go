package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/backupd/backupd/internal/client"
	"github.com/backupd/backupd/internal/domain"
)

func (a *app) newSyncCmd() *cobra.Command {
	var opt client.SyncOptions
	cmd := &cobra.Command{
		Use:   "sync DIR [--source S]... [--verify-existing]",
		Short: "Mirror the server's archives into a directory, verifying each",
		Long: `Mirror the archives of the server's succeeded backups into DIR (created if
needed), newest first, one at a time. Each archive missing from DIR is
downloaded under its own name, resuming a partial file, and verified
against the SHA-256 in the catalog, as with download.

An archive already in DIR with the right size is taken as it is: download
gave it its name only after verifying it. --verify-existing re-reads every
one and downloads again any that does not match (run it now and then to
catch damage on the mirror's disk).

Files in DIR are never deleted: an archive that the server's retention
removed stays, so the mirror can keep a longer history than the server.
Backups reported by webhook are skipped: their archives are kept by
their senders.

A sync holds a lock on DIR/.backupctl-sync.lock while it runs; a second
sync into the same DIR (a cron job outlasting its interval) stops at once
instead of colliding with the first one's partial files.

Exit 1 if any archive failed to download or verify (the others are still
mirrored); 2 for a --source the server does not have; 3 if the server
cannot be reached, which stops the sync (run it again to resume).`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			if err := a.checkSources(cmd, c, opt.Sources); err != nil {
				return err
			}
			var bar *progressbar.ProgressBar
			opt.Start = func(i, n int, b domain.Backup) {
				bar = a.newBar(downloadTotal(b), fmt.Sprintf("backup %d (%d of %d)", b.ID, i, n))
			}
			opt.Progress = func(_ domain.Backup, done, total int64) {
				setBar(bar, done, total)
			}
			opt.Report = func(it client.SyncItem) {
				if bar != nil {
					if it.Action == client.SyncDownloaded {
						bar.Finish()
					} else {
						bar.Clear() // nothing was fetched: the line says why
					}
					bar = nil
				}
				if a.output != "json" {
					a.printSyncItem(it)
				}
			}
			res, err := c.Sync(cmd.Context(), argv[0], opt)
			if err != nil {
				return err
			}
			if a.output == "json" {
				if err := a.printJSON(toSyncJSON(res)); err != nil {
					return err
				}
			} else {
				a.printf("%d downloaded (%s), %d already here, %d removed by retention meanwhile, %d failed\n",
					res.Downloaded, humanBytes(res.Bytes), res.Present, res.Gone, res.Failed)
			}
			if res.Failed > 0 {
				return fmt.Errorf("%d of %d archives failed to download or verify; run sync again to retry them", res.Failed, len(res.Items))
			}
			return nil
		},
	}
	cmd.Flags().StringSliceVar(&opt.Sources, "source", nil, "only these sources (repeat, or separate with commas)")
	cmd.Flags().BoolVar(&opt.VerifyExisting, "verify-existing", false, "re-read archives already in DIR and replace any that does not verify")
	cmd.RegisterFlagCompletionFunc("source", a.sourceFlag)
	cmd.ValidArgsFunction = func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return nil, cobra.ShellCompDirectiveFilterDirs
	}
	return cmd
}

// checkSources refuses a --source the server does not have: a typo would
// otherwise mirror nothing and succeed.
func (a *app) checkSources(cmd *cobra.Command, c *client.Client, want []string) error {
	if len(want) == 0 {
		return nil
	}
	have, err := c.Sources(cmd.Context())
	if err != nil {
		return err
	}
	var names []string
	for _, s := range have {
		names = append(names, s.Name)
	}
	for _, w := range want {
		if !slices.Contains(names, w) {
			return usageErrorf("--source %q: the server has no such source (it has: %s)", w, strings.Join(names, ", "))
		}
	}
	return nil
}

func (a *app) printSyncItem(it client.SyncItem) {
	switch it.Action {
	case client.SyncDownloaded:
		if it.Resumed > 0 {
			a.printf("backup %d: downloaded %s (%s, resumed after %s), sha256 verified\n", it.BackupID, it.Path, humanBytes(it.Size), humanBytes(it.Resumed))
		} else {
			a.printf("backup %d: downloaded %s (%s), sha256 verified\n", it.BackupID, it.Path, humanBytes(it.Size))
		}
	case client.SyncVerified:
		a.printf("backup %d: %s is already here, sha256 verified\n", it.BackupID, it.Path)
	case client.SyncPresent:
		a.printf("backup %d: %s is already here\n", it.BackupID, it.Path)
	case client.SyncGone:
		a.printf("backup %d: removed by the retention of source %s before it could be downloaded\n", it.BackupID, it.Source)
	case client.SyncFailed:
		fmt.Fprintf(a.stderr, "backup %d: %s\n", it.BackupID, it.Error)
	}
}
