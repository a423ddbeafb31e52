package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"syscall"
)

// UnreachableError means no HTTP answer came back: wrong address, server
// down, TLS trouble, a connection cut off.
type UnreachableError struct {
	// URL is the server's base URL.
	URL string
	Err error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("cannot reach backupd at %s: %s", e.URL, reason(e.Err))
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// NoConnection reports whether no connection to the server could be made
// at all (refused, no such host, no route, timed out connecting): the
// address is wrong or the daemon is not running. TLS trouble and a
// connection cut off midway are not that.
func (e *UnreachableError) NoConnection() bool {
	var op *net.OpError
	var dns *net.DNSError
	return errors.Is(e.Err, syscall.ECONNREFUSED) || errors.As(e.Err, &dns) ||
		(errors.As(e.Err, &op) && op.Op == "dial")
}

func (c *Client) unreachable(err error) *UnreachableError {
	return &UnreachableError{URL: c.base.String(), Err: err}
}

// reason says what went wrong in a few words: not the request's method and
// URL (the API path means nothing to whoever reads it), and without the
// dial's addresses, which the URL in front already gives.
func reason(err error) string {
	if ue, ok := err.(*url.Error); ok {
		err = ue.Err
	}
	if _, ok := err.(*net.OpError); !ok {
		return err.Error() // a message of ours, such as "download cut off"
	}
	var dns *net.DNSError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "no route to the host"
	case errors.As(err, &dns) && dns.IsNotFound:
		return fmt.Sprintf("no such host %q", dns.Name)
	case errors.Is(err, context.DeadlineExceeded):
		return "timed out"
	}
	return err.Error()
}
