// Package hubtest is the client side of hub benchmarks: it dials many real
// WebSocket clients at a hub and records, for every event they receive, how
// long it took from the publisher's stamp to arrival. The in-process
// BenchmarkFanout uses it, and so can a bench that runs the server in
// another process, since a stamp is only a wall-clock time in the event data.
package hubtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// Stamp returns event data that carries the current time, for a publisher
// to put in the events it sends.
func Stamp() json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"sent_ns":%d}`, time.Now().UnixNano()))
}

// Options say how the fleet's clients connect.
type Options struct {
	// Protocol is 1 or 2 (default 2).
	Protocol int
	// Since, for protocol 2, asks for a replay after this id; nil is live only.
	Since *int64
	// Header is sent with each handshake, e.g. an Authorization bearer.
	Header http.Header
	// Parallel is how many handshakes run at once (default 16).
	Parallel int
}

// Fleet is a set of connected clients counting what they receive.
type Fleet struct {
	clients  []*client
	received atomic.Int64
	notify   chan struct{}
	wg       sync.WaitGroup
	closing  atomic.Bool
	errMu    sync.Mutex
	err      error
}

type client struct {
	conn *websocket.Conn
	mu   sync.Mutex
	lat  []time.Duration
}

// Dial connects n clients to the hub at url (ws:// or http://) and returns
// once every one of them is live: for protocol 2 that means its replay is
// over, which the server signals by answering a ping after it.
func Dial(ctx context.Context, url string, n int, opt Options) (*Fleet, error) {
	if opt.Protocol == 0 {
		opt.Protocol = 2
	}
	if opt.Parallel <= 0 {
		opt.Parallel = 16
	}
	if strings.HasPrefix(url, "http") {
		url = "ws" + strings.TrimPrefix(url, "http")
	}
	f := &Fleet{clients: make([]*client, n), notify: make(chan struct{}, 1)}
	sem := make(chan struct{}, opt.Parallel)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			c, err := dialOne(ctx, url, opt)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				firstErr = cmpErr(firstErr, fmt.Errorf("client %d: %w", i, err))
				return
			}
			f.clients[i] = c
		}()
	}
	wg.Wait()
	if firstErr != nil {
		for _, c := range f.clients {
			if c != nil {
				_ = c.conn.Close()
			}
		}
		return nil, firstErr
	}
	for _, c := range f.clients {
		f.wg.Add(1)
		go f.read(c)
	}
	return f, nil
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

func dialOne(ctx context.Context, url string, opt Options) (*client, error) {
	conn, _, err := websocket.DefaultDialer.DialContext(ctx, url, opt.Header)
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	hello := []byte(`{"eventType":"ping"}`)
	if opt.Protocol != 1 {
		m := map[string]any{"eventType": "hello", "protocol": opt.Protocol}
		if opt.Since != nil {
			m["since"] = *opt.Since
		}
		hello, _ = json.Marshal(m)
	}
	if err := conn.WriteMessage(websocket.TextMessage, hello); err != nil {
		conn.Close()
		return nil, fmt.Errorf("send hello: %w", err)
	}
	if opt.Protocol != 1 {
		if err := conn.WriteMessage(websocket.TextMessage, []byte(`{"eventType":"ping"}`)); err != nil {
			conn.Close()
			return nil, fmt.Errorf("send ping: %w", err)
		}
	}
	for {
		_, b, err := conn.ReadMessage()
		if err != nil {
			conn.Close()
			return nil, fmt.Errorf("wait for pong: %w", err)
		}
		var m struct{ EventType, Code, Message string }
		_ = json.Unmarshal(b, &m)
		switch m.EventType {
		case "pong":
			return &client{conn: conn}, nil
		case "error":
			conn.Close()
			return nil, fmt.Errorf("server error %s: %s", m.Code, m.Message)
		}
	}
}

// read records the latency of every stamped event until the connection ends.
func (f *Fleet) read(c *client) {
	defer f.wg.Done()
	for {
		_, b, err := c.conn.ReadMessage()
		if err != nil {
			if !f.closing.Load() {
				f.setErr(err)
			}
			return
		}
		now := time.Now().UnixNano()
		var m struct {
			EventType  string `json:"eventType"`
			Data       *stamp `json:"data"`        // protocol 2
			SocketData *stamp `json:"socket_data"` // protocol 1
		}
		if json.Unmarshal(b, &m) != nil || (m.EventType != "event" && m.EventType != "backup") {
			continue
		}
		s := cmpStamp(m.Data, m.SocketData)
		c.mu.Lock()
		if s != nil && s.SentNS > 0 {
			c.lat = append(c.lat, time.Duration(now-s.SentNS))
		}
		c.mu.Unlock()
		f.received.Add(1)
		select {
		case f.notify <- struct{}{}:
		default:
		}
	}
}

type stamp struct {
	SentNS int64 `json:"sent_ns"`
}

func cmpStamp(a, b *stamp) *stamp {
	if a != nil {
		return a
	}
	return b
}

func (f *Fleet) setErr(err error) {
	f.errMu.Lock()
	defer f.errMu.Unlock()
	f.err = cmpErr(f.err, err)
}

// Err returns the first read error of any client before Close, such as a
// slow-consumer close.
func (f *Fleet) Err() error {
	f.errMu.Lock()
	defer f.errMu.Unlock()
	return f.err
}

// Received returns how many events all clients have received together.
func (f *Fleet) Received() int64 { return f.received.Load() }

// WaitReceived waits until the clients have received n events together.
func (f *Fleet) WaitReceived(ctx context.Context, n int64) error {
	for f.received.Load() < n {
		select {
		case <-f.notify:
		case <-ctx.Done():
			return fmt.Errorf("received %d of %d events: %w", f.received.Load(), n, errors.Join(ctx.Err(), f.Err()))
		}
	}
	return nil
}

// Latencies returns every recorded publish-to-receive latency, sorted.
func (f *Fleet) Latencies() []time.Duration {
	var all []time.Duration
	for _, c := range f.clients {
		c.mu.Lock()
		all = append(all, c.lat...)
		c.mu.Unlock()
	}
	slices.Sort(all)
	return all
}

// Reset forgets the recorded latencies, e.g. after a warm-up.
func (f *Fleet) Reset() {
	for _, c := range f.clients {
		c.mu.Lock()
		c.lat = c.lat[:0]
		c.mu.Unlock()
	}
}

// Percentile returns the p-th percentile (0..100) of sorted latencies.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted)-1) * p / 100)
	return sorted[i]
}

// Len returns the number of clients.
func (f *Fleet) Len() int { return len(f.clients) }

// Close closes every client and waits for their readers.
func (f *Fleet) Close() {
	f.closing.Store(true)
	for _, c := range f.clients {
		_ = c.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
		_ = c.conn.Close()
	}
	f.wg.Wait()
}
