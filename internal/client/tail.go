package client

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"github.com/backupd/backupd/internal/domain"
)

// Close codes the hub documents (docs/protocol.md).
const (
	closeUnsupportedProtocol = 4001
	closeSlowConsumer        = 4002
)

// TailOptions select what Tail follows.
type TailOptions struct {
	// Since is the id of the last event already seen; Tail delivers what
	// comes after it. -1 means "from now on".
	Since   int64
	Sources []string
	Types   []string
	// OnReconnect, if set, is told about each lost connection and the wait
	// before the next try.
	OnReconnect func(err error, wait time.Duration)
}

// Tail follows the event stream over the WebSocket (protocol 2) and calls
// fn with each event, stored ones in id order without gaps or repeats. On a
// lost connection it reconnects with exponential backoff and resumes after
// the last stored event delivered, so a daemon restart loses nothing. It
// returns when ctx ends, when fn returns an error, or on an error that a
// retry cannot fix (bad token, protocol refused).
func (c *Client) Tail(ctx context.Context, opt TailOptions, fn func(domain.Event) error) error {
	last := opt.Since
	wait := 250 * time.Millisecond
	for {
		delivered, err := c.tailOnce(ctx, opt, &last, fn)
		if ctx.Err() != nil {
			return nil
		}
		var fatal *fatalTailError
		if errors.As(err, &fatal) {
			return fatal.err
		}
		if delivered {
			wait = 250 * time.Millisecond
		}
		// Full jitter keeps a fleet of tails from reconnecting in step
		// after a daemon restart.
		d := wait/2 + rand.N(wait/2+1)
		if opt.OnReconnect != nil {
			opt.OnReconnect(err, d)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(d):
		}
		wait = min(wait*2, 5*time.Second)
	}
}

type fatalTailError struct{ err error }

func (e *fatalTailError) Error() string { return e.err.Error() }

// wireEvent is a server message: an event, or a control message.
type wireEvent struct {
	EventType string `json:"eventType"`
	domain.Event
	Code    string `json:"code"`
	Message string `json:"message"`
	// Head is the newest stored event id when the server said welcome.
	Head int64 `json:"head"`
}

// tailOnce runs one connection. It reports whether it delivered anything,
// so that a connection that worked resets the backoff.
func (c *Client) tailOnce(ctx context.Context, opt TailOptions, last *int64, fn func(domain.Event) error) (bool, error) {
	conn, err := c.dialWS(ctx)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	hello := map[string]any{"eventType": "hello", "protocol": 2, "sources": opt.Sources, "types": opt.Types}
	if *last >= 0 {
		hello["since"] = *last
	}
	if err := conn.WriteJSON(hello); err != nil {
		return false, fmt.Errorf("send hello: %w", err)
	}
	delivered := false
	for {
		var m wireEvent
		if err := conn.ReadJSON(&m); err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) && ce.Code == closeUnsupportedProtocol {
				return delivered, &fatalTailError{fmt.Errorf("the server refused the protocol: %s", ce.Text)}
			}
			return delivered, fmt.Errorf("connection lost: %w", err)
		}
		switch m.EventType {
		case "event":
			if !m.Ephemeral && m.ID <= *last {
				continue // already delivered before a reconnect
			}
			if err := fn(m.Event); err != nil {
				return delivered, &fatalTailError{err}
			}
			if !m.Ephemeral {
				*last = m.ID
			}
			delivered = true
		case "welcome":
			if *last < 0 {
				// "From now on": remember where now was, so that a
				// reconnect resumes from here rather than from its own now.
				*last = m.Head
			}
		case "error":
			if m.Code == "unsupported_protocol" {
				return delivered, &fatalTailError{fmt.Errorf("the server refused the protocol: %s", m.Message)}
			}
		}
	}
}

func (c *Client) dialWS(ctx context.Context) (*websocket.Conn, error) {
	u := *c.base
	u.Scheme = strings.Replace(u.Scheme, "http", "ws", 1)
	u.Path += "/api/v1/ws"
	h := http.Header{}
	if c.token != "" {
		h.Set("Authorization", "Bearer "+c.token)
	}
	conn, resp, err := c.dialer().DialContext(ctx, u.String(), h)
	if err != nil {
		if resp != nil && (resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden) {
			defer resp.Body.Close()
			return nil, &fatalTailError{decodeProblem(resp)}
		}
		var badCert *tls.CertificateVerificationError
		if errors.As(err, &badCert) { // no retry makes it trusted
			return nil, &fatalTailError{c.unreachable(err)}
		}
		return nil, c.unreachable(err)
	}
	conn.SetReadLimit(4 << 20)
	return conn, nil
}
