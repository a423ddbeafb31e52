package hub

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/backupd/backupd/internal/domain"
)

// memStore is a slice-backed EventStore: the catalog is tested elsewhere.
type memStore struct {
	mu     sync.Mutex
	events []domain.Event
	// onList, when set, runs at the start of each ListEvents: a test's way
	// to act while a replay is under way, or to fail it.
	onList func() error
}

func (s *memStore) ListEvents(_ context.Context, since int64, limit int) ([]domain.Event, error) {
	if s.onList != nil {
		if err := s.onList(); err != nil {
			return nil, err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// ids are 1..n, so id > since starts at index since.
	start := min(max(since, 0), int64(len(s.events)))
	end := min(start+int64(limit), int64(len(s.events)))
	return append([]domain.Event(nil), s.events[start:end]...), nil
}

// add stores an event with the next id and returns it, as a commit would.
func (s *memStore) add(typ, source string, data json.RawMessage) domain.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	ev := domain.Event{
		ID: int64(len(s.events) + 1), Type: typ, Source: source, BackupID: int64(len(s.events)%7 + 1),
		Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Data: data,
	}
	s.events = append(s.events, ev)
	return ev
}

type testHub struct {
	*Hub
	store  *memStore
	url    string
	dialer *websocket.Dialer
}

func newTestHub(t testing.TB, opt Options) *testHub {
	t.Helper()
	store := &memStore{}
	h := New(store, opt)
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		h.Close()
		srv.Close()
	})
	return &testHub{Hub: h, store: store, url: "ws" + strings.TrimPrefix(srv.URL, "http"), dialer: websocket.DefaultDialer}
}

// newTestHubTLS serves the hub over TLS (httptest's own certificate), so
// that every connection is a *tls.Conn and the hub has no raw socket to
// write to without waiting.
func newTestHubTLS(t testing.TB, opt Options) *testHub {
	t.Helper()
	store := &memStore{}
	h := New(store, opt)
	srv := httptest.NewTLSServer(h)
	t.Cleanup(func() {
		h.Close()
		srv.Close()
	})
	d := *websocket.DefaultDialer
	d.TLSClientConfig = srv.Client().Transport.(*http.Transport).TLSClientConfig
	return &testHub{Hub: h, store: store, url: "wss" + strings.TrimPrefix(srv.URL, "https"), dialer: &d}
}

// dial connects to th with th's dialer (plain or TLS).
func (th *testHub) dial(t testing.TB) *testConn {
	t.Helper()
	return dialWith(t, th.dialer, th.url, nil)
}

// publish stores then publishes, in the order the watcher does.
func (th *testHub) publish(typ, source string, data json.RawMessage) domain.Event {
	ev := th.store.add(typ, source, data)
	th.Publish(ev)
	return ev
}

type testConn struct {
	t testing.TB
	*websocket.Conn
}

func dial(t testing.TB, url string, header http.Header) *testConn {
	t.Helper()
	return dialWith(t, websocket.DefaultDialer, url, header)
}

func dialWith(t testing.TB, d *websocket.Dialer, url string, header http.Header) *testConn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	conn, resp, err := d.DialContext(ctx, url, header)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial %s: %v (HTTP %d)", url, err, status)
	}
	t.Cleanup(func() { conn.Close() })
	return &testConn{t, conn}
}

func (c *testConn) send(s string) {
	c.t.Helper()
	if err := c.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
		c.t.Fatalf("send %s: %v", s, err)
	}
}

// waitLimit bounds every wait in these tests. It only keeps a broken test
// from hanging until the package times out, with a message saying what it
// waited for; nothing is asserted about time, and it is long enough for a
// machine under heavy load.
const waitLimit = 30 * time.Second

// recv receives from ch, failing the test if nothing comes within waitLimit.
func recv[T any](t testing.TB, ch <-chan T, what string) (T, bool) {
	t.Helper()
	select {
	case v, ok := <-ch:
		return v, ok
	case <-time.After(waitLimit):
		t.Fatalf("waited %s for %s", waitLimit, what)
		var zero T
		return zero, false
	}
}

// waitGroup waits for wg, failing the test after waitLimit.
func waitGroup(t testing.TB, wg *sync.WaitGroup, what string) {
	t.Helper()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	recv(t, done, what)
}

// eventually polls cond until it holds, failing the test after waitLimit.
// For state with no event to wait on (a byte count going back to zero).
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s", waitLimit, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// next reads one message. The deadline only keeps a broken test from
// hanging; nothing is asserted about time.
func (c *testConn) next() (map[string]any, error) {
	_ = c.SetReadDeadline(time.Now().Add(waitLimit))
	_, b, err := c.ReadMessage()
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, errors.New("server sent non-JSON: " + string(b))
	}
	return m, nil
}

func (c *testConn) read() map[string]any {
	c.t.Helper()
	m, err := c.next()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return m
}

// expect reads one message and compares it with want (JSON) exactly.
func (c *testConn) expect(want string) map[string]any {
	c.t.Helper()
	got := c.read()
	var w map[string]any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		c.t.Fatalf("bad want %s: %v", want, err)
	}
	if !reflect.DeepEqual(got, w) {
		gb, _ := json.Marshal(got)
		c.t.Fatalf("got  %s\nwant %s", gb, want)
	}
	return got
}

// expectClose reads until the close frame and checks its code.
func (c *testConn) expectClose(code int) *websocket.CloseError {
	c.t.Helper()
	for {
		m, err := c.next()
		if err == nil {
			c.t.Logf("before close: %v", m)
			continue
		}
		var ce *websocket.CloseError
		if !errors.As(err, &ce) {
			c.t.Fatalf("want close %d, got %v", code, err)
		}
		if ce.Code != code {
			c.t.Fatalf("close code = %d (%q), want %d", ce.Code, ce.Text, code)
		}
		return ce
	}
}

// greeted reads socket_connected and returns the client id.
func (c *testConn) greeted() string {
	c.t.Helper()
	m := c.read()
	data, _ := m["socket_data"].(map[string]any)
	id, _ := data["id"].(string)
	if m["eventType"] != "socket_connected" || len(id) != 36 {
		c.t.Fatalf("greeting = %v", m)
	}
	return id
}

// hello starts protocol 2 and returns once the client is live: the server
// answers a ping only after the replay, so everything before the pong is
// welcome plus replayed events, returned in order.
func (c *testConn) hello(msg string) (welcome map[string]any, replayed []map[string]any) {
	c.t.Helper()
	c.greeted()
	c.send(msg)
	c.send(`{"eventType":"ping"}`)
	// Anything before welcome is protocol 1 traffic sent while the server
	// did not yet know better; the protocol says to ignore it.
	for welcome = c.read(); welcome["eventType"] != "welcome"; welcome = c.read() {
		if welcome["eventType"] == "error" {
			c.t.Fatalf("hello refused: %v", welcome)
		}
	}
	for {
		m := c.read()
		if m["eventType"] == "pong" {
			return welcome, replayed
		}
		replayed = append(replayed, m)
	}
}

func idOf(m map[string]any) int64 {
	f, _ := m["id"].(float64)
	return int64(f)
}

func dialRaw(url string, header http.Header) (*websocket.Conn, *http.Response, error) {
	return websocket.DefaultDialer.Dial(url, header)
}
