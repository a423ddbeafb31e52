package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/backupd/backupd/internal/client"
	"github.com/backupd/backupd/internal/domain"
)

func (a *app) newDownloadCmd() *cobra.Command {
	var dest string
	cmd := &cobra.Command{
		Use:   "download ID [-o PATH]",
		Short: "Download a backup's archive, resuming a partial download, and verify its SHA-256",
		Long: `Download a backup's archive and verify its SHA-256 against the catalog.

PATH is a file, or a directory to put the archive in under its own name
(default: the current directory); a PATH ending in / is a directory,
created if it does not exist. An interrupted download leaves
PATH.partial, which the next download resumes. A file that does not verify
is deleted. Here -o names the destination; the output is always text.`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			id, c, err := a.idClient(argv[0])
			if err != nil {
				return err
			}
			return a.download(cmd.Context(), c, id, dest)
		},
	}
	// The same name as the global -o shadows it here: for a download, -o
	// is where the file goes, as with curl.
	cmd.Flags().StringVarP(&dest, "output", "o", ".", "destination file or directory")
	cmd.ValidArgsFunction = a.idArg(domain.StatusSucceeded)
	return cmd
}

// download fetches and verifies; it prints where the file is and its sum.
func (a *app) download(ctx context.Context, c *client.Client, id int64, dest string) error {
	var opt client.DownloadOptions
	if bar := a.newBar(-1, "downloading"); bar != nil {
		opt.Progress = func(done, total int64) { setBar(bar, done, total) }
		defer bar.Finish()
	}
	res, err := c.Download(ctx, id, dest, opt)
	var ce *client.ChecksumError
	if errors.As(err, &ce) {
		return err
	}
	if err != nil {
		return err
	}
	// After run --download -o json, stdout holds the backup's JSON alone.
	w := a.stdout
	if a.output == "json" {
		w = a.stderr
	}
	switch {
	case res.Reused:
		fmt.Fprintf(w, "%s is already here and verified (sha256 %s)\n", res.Path, res.SHA256)
	case res.Resumed > 0:
		fmt.Fprintf(w, "downloaded %s (%s, resumed after %s), sha256 %s verified\n", res.Path, humanBytes(res.Size), humanBytes(res.Resumed), res.SHA256)
	default:
		fmt.Fprintf(w, "downloaded %s (%s), sha256 %s verified\n", res.Path, humanBytes(res.Size), res.SHA256)
	}
	return nil
}
