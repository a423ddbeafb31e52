package domain

import (
	"errors"
	"fmt"
)

// Error codes. Each maps to one HTTP status in httpapi and to one CLI exit
// code in backupctl; the mapping lives in those packages, in one table each.
const (
	ECONFLICT     = "conflict"           // the request clashes with current state
	EINTERNAL     = "internal"           // a bug or an I/O failure on our side
	EINVALID      = "invalid"            // the request is malformed or fails validation
	ENOTFOUND     = "not_found"          // the named thing does not exist
	EUNAUTHORIZED = "unauthorized"       // missing or wrong credentials
	EFORBIDDEN    = "forbidden"          // good credentials, but not for this (a scope, a cross-site request)
	EMISDIRECTED  = "misdirected"        // the request names a host this server does not serve
	EUNSUPPORTED  = "unsupported_media"  // the body is not of a type the endpoint reads
	ETOOLARGE     = "too_large"          // the request body is over the limit
	EUNAVAILABLE  = "unavailable"        // shutting down, or a dependency is down
	ENOTREADY     = "not_ready"          // the thing exists but is not in a usable state yet
	EMETHOD       = "method_not_allowed" // the endpoint exists, but not with this method
)

// Error is backupd's application error: a code for machines and a message
// that a person can act on. Other errors are wrapped around it with %w.
type Error struct {
	Code    string
	Message string
	// Extra members are added to the problem+json body (for example the id
	// of the backup that caused a conflict).
	Extra map[string]any
}

// Error implements the error interface.
func (e *Error) Error() string {
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL
// for any other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the human message of the first *Error in err's chain,
// or a generic message for internal errors, which are logged, not shown.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error; see the server log"
}
