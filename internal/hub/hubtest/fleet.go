// Package hubtest is the client side of hub benchmarks: it dials many real
// WebSocket clients at a hub and records, for every event they receive, how
// long it took from the publisher's stamp to arrival. The in-process
// BenchmarkFanout uses it, and so can a bench that runs the server in
// another process, since a stamp is only a wall-clock time in the event data.
package hubtest

import (
	"bytes"
	"context"
	"crypto/tls"
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
	// TLSConfig, when set, is used to dial wss:// URLs (an https:// url
	// is turned into wss://).
	TLSConfig *tls.Config
	// EventTime measures each protocol 2 event from its "time" field (set
	// when the event was committed) instead of a stamp in its data, so that
	// a bench can time events it did not publish itself, such as those of a
	// daemon in another process on the same machine.
	EventTime bool
}

// Fleet is a set of connected clients counting what they receive.
type Fleet struct {
	clients   []*client
	eventTime bool
	received  atomic.Int64
	closed    atomic.Int64
	notify    chan struct{}
	wg        sync.WaitGroup
	closing   atomic.Bool
	errMu     sync.Mutex
	err       error
}

type client struct {
	conn     *websocket.Conn
	mu       sync.Mutex
	lat      []time.Duration
	received atomic.Int64
	buf      bytes.Buffer // reused for every message it reads
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
	dialer := *websocket.DefaultDialer
	dialer.TLSClientConfig = opt.TLSConfig
	f := &Fleet{clients: make([]*client, n), eventTime: opt.EventTime, notify: make(chan struct{}, 1)}
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
			c, err := dialOne(ctx, &dialer, url, opt)
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

func dialOne(ctx context.Context, dialer *websocket.Dialer, url string, opt Options) (*client, error) {
	conn, _, err := dialer.DialContext(ctx, url, opt.Header)
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
	// The pong comes after the replay; ctx bounds the wait for it.
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetReadDeadline(dl)
	}
	defer conn.SetReadDeadline(time.Time{})
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
// The arrival time is taken as soon as the message is read, before it is
// parsed, and the buffer is reused: thousands of readers share the
// machine with the server they measure.
func (f *Fleet) read(c *client) {
	defer f.wg.Done()
	for {
		_, r, err := c.conn.NextReader()
		if err == nil {
			c.buf.Reset()
			_, err = c.buf.ReadFrom(r)
		}
		if err != nil {
			if !f.closing.Load() {
				f.closed.Add(1)
				f.setErr(err)
			}
			return
		}
		now := time.Now()
		b := c.buf.Bytes()
		var sent int64
		if f.eventTime {
			var ok bool
			if sent, ok = eventTime(b); !ok {
				continue
			}
		} else {
			var m struct {
				EventType  string `json:"eventType"`
				Data       *stamp `json:"data"`        // protocol 2
				SocketData *stamp `json:"socket_data"` // protocol 1
			}
			if json.Unmarshal(b, &m) != nil || (m.EventType != "event" && m.EventType != "backup") {
				continue
			}
			if s := cmpStamp(m.Data, m.SocketData); s != nil {
				sent = s.SentNS
			}
		}
		if sent > 0 {
			c.mu.Lock()
			c.lat = append(c.lat, time.Duration(now.UnixNano()-sent))
			c.mu.Unlock()
		}
		c.received.Add(1)
		f.received.Add(1)
		select {
		case f.notify <- struct{}{}:
		default:
		}
	}
}

var (
	eventPrefix = []byte(`{"eventType":"event",`)
	timeKey     = []byte(`"time":"`)
)

// eventTime returns the "time" of a protocol 2 event in Unix ns. The hub
// writes eventType first and time before data, and a JSON string cannot
// hold an unescaped quote, so the first "time":" is the event's own.
func eventTime(b []byte) (int64, bool) {
	if !bytes.HasPrefix(b, eventPrefix) {
		return 0, false
	}
	i := bytes.Index(b, timeKey)
	if i < 0 {
		return 0, false
	}
	b = b[i+len(timeKey):]
	j := bytes.IndexByte(b, '"')
	if j < 0 {
		return 0, false
	}
	t, err := time.Parse(time.RFC3339Nano, string(b[:j]))
	if err != nil {
		return 0, false
	}
	return t.UnixNano(), true
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

// Closed returns how many clients' connections ended before Close: a
// slow-consumer close, a dropped peer.
func (f *Fleet) Closed() int { return int(f.closed.Load()) }

// Counts returns how many events each client has received.
func (f *Fleet) Counts() []int64 {
	out := make([]int64, len(f.clients))
	for i, c := range f.clients {
		out[i] = c.received.Load()
	}
	return out
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
