package main

import (
	"context"
	"errors"
	"strings"

	"github.com/spf13/cobra"

	"github.com/backupd/backupd/internal/domain"
)

func (a *app) newCheckCmd() *cobra.Command {
	var f storeFlags
	var readData bool
	cmd := &cobra.Command{
		Use:   "check [--read-data] [--repo LOCATION]",
		Short: "Check the repository: every pack's end against the index, every snapshot's chunks present",
		Long: `Check the repository: every pack's trailer, checksum and header, every pack
the index records present with its size, and every chunk that a
snapshot's tree references in a pack. With --read-data, every blob is
also read, decrypted, decompressed and checked against its id: all the
data is read once.

Through the server (a token with the admin scope): a daemon without the
identity of an encrypted repository checks the packs' ends only, and
says so; --read-data needs the identity there.

With --repo LOCATION (see backupctl restore --help) the store is checked
directly, with no server and no index; an encrypted repository needs
--identity FILE, whose config is encrypted too.

Exits 1 when a problem is found; each is printed.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			var res domain.CheckResult
			var err error
			if f.repo != "" {
				res, err = checkStore(cmd.Context(), f, readData)
			} else {
				c, cerr := a.client()
				if cerr != nil {
					return cerr
				}
				res, err = c.Check(cmd.Context(), readData)
			}
			if err != nil {
				return err
			}
			if err := a.printCheck(res); err != nil {
				return err
			}
			if !res.OK {
				return errors.New("the repository check found problems")
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&readData, "read-data", false, "read and check every blob too")
	f.add(cmd.Flags(), "check")
	cmd.MarkFlagFilename("identity")
	return cmd
}

// checkStore checks the store alone: no index, so nothing is compared
// with one.
func checkStore(ctx context.Context, f storeFlags, readData bool) (domain.CheckResult, error) {
	res := domain.CheckResult{ReadData: readData}
	r, err := f.open(ctx)
	if err != nil {
		return res, err
	}
	defer r.Close()
	err = r.Check(ctx, readData)
	if err == nil {
		res.OK = true
		return res, nil
	}
	var joined interface{ Unwrap() []error }
	if !errors.As(errors.Unwrap(err), &joined) {
		return res, err // not a finding: the check could not run
	}
	for _, e := range joined.Unwrap() {
		res.Problems = append(res.Problems, e.Error())
	}
	return res, nil
}

func (a *app) printCheck(res domain.CheckResult) error {
	if a.output == "json" {
		return a.printJSON(toCheckJSON(res))
	}
	what := "pack ends, index and snapshot trees"
	if res.ReadData {
		what += ", every blob read"
	}
	if res.OK {
		a.printf("ok (%s)\n", what)
	} else {
		a.printf("problems (%s):\n  %s\n", what, strings.Join(res.Problems, "\n  "))
	}
	if res.Limited != "" {
		a.printf("limited: %s\n", res.Limited)
	}
	return nil
}
