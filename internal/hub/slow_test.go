package hub

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/backupd/backupd/internal/domain"
)

// TestSlowConsumer: a client that stops reading is closed with 4002 while
// another client gets every event, and the slow one recovers everything by
// reconnecting with the since named in the close reason. The queue's bound
// is in messages, or in bytes; over TLS the pump writes everything.
func TestSlowConsumer(t *testing.T) {
	for _, tc := range []struct {
		name string
		tls  bool
		opt  Options
		why  string
	}{
		{"messages", false, Options{QueueSize: 4}, "more than 4 messages queued"},
		{"bytes", false, Options{QueueSize: 4096, QueueBytes: 100 << 10}, "more than 102400 bytes queued"},
		{"bytes over TLS", true, Options{QueueSize: 4096, QueueBytes: 100 << 10}, "more than 102400 bytes queued"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			newHub := newTestHub
			if tc.tls {
				newHub = newTestHubTLS
			}
			th := newHub(t, tc.opt)
			testSlowConsumer(t, th, tc.why)
		})
	}
}

func testSlowConsumer(t *testing.T, th *testHub, why string) {
	kicked := make(chan *client, 1)
	th.mu.Lock()
	th.testHookKick = func(c *client) {
		select {
		case kicked <- c:
		default:
		}
	}
	th.mu.Unlock()

	slow := th.dial(t)
	w, _ := slow.hello(`{"eventType":"hello","protocol":2,"since":0}`)
	slowID := w["client_id"]
	normal := th.dial(t)
	normal.hello(`{"eventType":"hello","protocol":2,"since":0}`)
	got := make(chan int64)
	done := make(chan struct{})
	defer close(done)
	go func() {
		defer close(got)
		for {
			m, err := normal.next()
			if err != nil {
				return
			}
			select {
			case got <- idOf(m):
			case <-done:
				return
			}
		}
	}()
	receive := func(want int64) {
		t.Helper()
		if id, ok := recv(t, got, fmt.Sprintf("event %d at the normal client", want)); !ok || id != want {
			t.Fatalf("normal client got %d (open %v), want %d", id, ok, want)
		}
	}

	// Big events fill the slow client's socket buffers, then its queue.
	// Waiting for the normal client after each one keeps that one's queue
	// short, so only the client that does not read can fall behind.
	big := json.RawMessage(`{"pad":"` + strings.Repeat("x", 32<<10) + `"}`)
	var last int64
	for c := (*client)(nil); c == nil; {
		if last > 20000 {
			t.Fatal("the client that does not read was never closed")
		}
		last = th.publish(domain.EventBackupSucceeded, "db", big).ID
		receive(last)
		select {
		case c = <-kicked:
			if c.id != slowID {
				t.Fatalf("kicked client %s, want the slow one %s", c.id, slowID)
			}
		default:
		}
	}
	for range 3 {
		last = th.publish(domain.EventBackupFailed, "db", nil).ID
		receive(last)
	}

	// The slow client now reads what reached it, then the close frame.
	var ids []int64
	var ce *websocket.CloseError
	for {
		m, err := slow.next()
		if err != nil {
			if !errors.As(err, &ce) {
				t.Fatalf("slow client: %v", err)
			}
			break
		}
		ids = append(ids, idOf(m))
	}
	if ce.Code != CloseSlowConsumer || !strings.Contains(ce.Text, why) {
		t.Fatalf("close = %d %q, want %d naming %q", ce.Code, ce.Text, CloseSlowConsumer, why)
	}
	var since int64
	if _, err := fmt.Sscanf(ce.Text[strings.Index(ce.Text, "since="):], "since=%d", &since); err != nil {
		t.Fatalf("close reason %q names no since: %v", ce.Text, err)
	}
	for i, id := range ids {
		if id != int64(i+1) {
			t.Fatalf("slow client's event %d has id %d", i, id)
		}
	}
	if since != int64(len(ids)) || since >= last {
		t.Fatalf("reason says since=%d; client got %d events of %d", since, len(ids), last)
	}

	again := th.dial(t)
	_, replayed := again.hello(fmt.Sprintf(`{"eventType":"hello","protocol":2,"since":%d}`, since))
	for i, m := range replayed {
		if idOf(m) != since+int64(i)+1 {
			t.Fatalf("replayed[%d] = id %d, want %d", i, idOf(m), since+int64(i)+1)
		}
	}
	if int64(len(replayed)) != last-since {
		t.Fatalf("replayed %d events, want %d", len(replayed), last-since)
	}
}
