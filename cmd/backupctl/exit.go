package main

import (
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/backupd/backupd/internal/client"
)

const (
	exitOK          = 0
	exitFailed      = 1
	exitUsage       = 2
	exitUnreachable = 3
)

type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// exitCode maps an error to the documented exit codes.
func (a *app) exitCode(err error) int {
	var ue *usageError
	var unreachable *client.UnreachableError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue), !a.ran:
		return exitUsage
	case errors.As(err, &unreachable), client.IsUnauthorized(err):
		return exitUnreachable
	}
	return exitFailed
}

// args wraps a cobra argument check so that its failure is a usage error.
func args(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, a []string) error {
		if err := check(cmd, a); err != nil {
			return usageErrorf("%v (see %s --help)", err, cmd.CommandPath())
		}
		return nil
	}
}

// explainTLS adds what to do when the server's certificate is signed by a
// CA that backupctl does not trust, the usual case of a private CA.
func explainTLS(err error) error {
	var unknown x509.UnknownAuthorityError
	if errors.As(err, &unknown) {
		return fmt.Errorf("%w: the server's certificate is not trusted; give backupctl the certificate of the CA that signed it with --cacert FILE (or BACKUPD_CACERT)", err)
	}
	return err
}
