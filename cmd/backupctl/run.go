package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/backupd/backupd/internal/client"
	"github.com/backupd/backupd/internal/domain"
)

// pollEvery is how often run --wait asks for the backup's status.
const pollEvery = 500 * time.Millisecond

func (a *app) newRunCmd() *cobra.Command {
	var (
		wait    bool
		dest    string
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "run SOURCE",
		Short: "Start a backup of SOURCE, optionally wait for it and download the archive",
		Long: `Start a backup of SOURCE on the server.

With --wait, follow it until it ends, showing the bytes read so far and
the rate; when SOURCE has a succeeded backup, also how far along it is and
the time left, estimated from that backup's size (marked "est."). The
exit code is 1 if it failed or was canceled. --download PATH implies --wait,
then downloads the archive to PATH (a file, or a directory to put it in),
resuming a partial file and verifying the SHA-256. If a backup of SOURCE
is already running, --wait follows that one instead of failing.

Ctrl-C stops waiting (the backup goes on; backupctl cancel ID stops it)
and exits 130.

` + exitCodesHelp,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			if timeout < 0 {
				return usageErrorf("--timeout must not be negative")
			}
			if !domain.ValidName(argv[0]) {
				return usageErrorf("%q is not a valid source name (see backupctl sources)", argv[0])
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, timeout)
				defer cancel()
			}
			return a.run(ctx, c, argv[0], wait || dest != "", dest)
		},
	}
	cmd.Flags().BoolVarP(&wait, "wait", "w", false, "wait for the backup to end")
	cmd.Flags().StringVarP(&dest, "download", "d", "", "download the archive to this file or directory (implies --wait)")
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "give up waiting after this long, e.g. 30m (the backup goes on)")
	cmd.ValidArgsFunction = a.sourceArg
	return cmd
}

func (a *app) run(ctx context.Context, c *client.Client, source string, wait bool, dest string) error {
	b, err := c.CreateBackup(ctx, source)
	var ae *client.APIError
	if errors.As(err, &ae) && ae.Status == 409 && ae.BackupID > 0 && wait {
		fmt.Fprintf(a.stderr, "a backup of %s is already active (backup %d); following it\n", source, ae.BackupID)
		b, err = c.Backup(ctx, ae.BackupID)
	}
	if err != nil {
		return err
	}
	if !wait {
		if a.output == "json" {
			return a.printJSON(toBackupJSON(b))
		}
		a.printf("backup %d of %s queued; follow it with: backupctl status %d\n", b.ID, b.Source, b.ID)
		return nil
	}
	if b, err = a.follow(ctx, c, b); err != nil {
		return err
	}
	if a.output == "json" {
		// The backup is the answer, with or without --download: what the
		// download did goes to stderr, so the JSON keeps one shape.
		if err := a.printJSON(toBackupJSON(b)); err != nil {
			return err
		}
	}
	if b.Status != domain.StatusSucceeded {
		return fmt.Errorf("backup %d of %s %s: %s", b.ID, b.Source, b.Status, b.Error)
	}
	if a.output != "json" {
		if b.Snapshot != "" {
			a.printf("backup %d of %s succeeded: %s read, %s added to the repository, snapshot %s\n", b.ID, b.Source, humanBytes(b.SizeBytes), humanBytes(b.AddedBytes), short(b.Snapshot))
		} else {
			a.printf("backup %d of %s succeeded: %s, sha256 %s\n", b.ID, b.Source, humanBytes(b.SizeBytes), b.SHA256)
		}
	}
	if dest == "" {
		return nil
	}
	return a.download(ctx, c, b.ID, dest)
}

// previousSize is the size of source's newest succeeded backup, 0 if it
// has none (or the server cannot say): what run --wait estimates from.
func previousSize(ctx context.Context, c *client.Client, source string, current int64) int64 {
	list, _, err := c.Backups(ctx, domain.BackupFilter{Source: source, Status: domain.StatusSucceeded, Limit: 2})
	if err != nil {
		return 0
	}
	for _, b := range list {
		if b.ID != current {
			return b.SizeBytes
		}
	}
	return 0
}

// follow polls the backup until it reaches a final status, showing its
// progress on a terminal and its status changes elsewhere.
func (a *app) follow(ctx context.Context, c *client.Client, b domain.Backup) (domain.Backup, error) {
	p := a.newBackupProgress(b, previousSize(ctx, c, b.Source, b.ID))
	t := time.NewTicker(pollEvery)
	defer t.Stop()
	for {
		p.update(b, time.Now())
		if b.Status.Final() {
			return b, nil
		}
		select {
		case <-ctx.Done():
			p.stop()
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return b, fmt.Errorf("gave up waiting (--timeout); backup %d is still %s: backupctl status %d", b.ID, b.Status, b.ID)
			}
			return b, fmt.Errorf("stopped waiting; backup %d goes on: backupctl status %d", b.ID, b.ID)
		case <-t.C:
		}
		next, err := c.Backup(ctx, b.ID)
		if err != nil {
			if ctx.Err() != nil {
				continue // reported by the select above
			}
			return b, err
		}
		b = next
	}
}
