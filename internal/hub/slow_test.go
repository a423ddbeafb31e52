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
// reconnecting with the since named in the close reason.
func TestSlowConsumer(t *testing.T) {
	th := newTestHub(t, Options{QueueSize: 4})
	kicked := make(chan *client, 1)
	th.mu.Lock()
	th.testHookKick = func(c *client) {
		select {
		case kicked <- c:
		default:
		}
	}
	th.mu.Unlock()

	slow := dial(t, th.url, nil)
	w, _ := slow.hello(`{"eventType":"hello","protocol":2,"since":0}`)
	slowID := w["client_id"]
	normal := dial(t, th.url, nil)
	normal.hello(`{"eventType":"hello","protocol":2,"since":0}`)
	got := make(chan int64)
	go func() {
		defer close(got)
		for {
			m, err := normal.next()
			if err != nil {
				return
			}
			got <- idOf(m)
		}
	}()
	receive := func(want int64) {
		t.Helper()
		if id, ok := <-got; !ok || id != want {
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
	if ce.Code != CloseSlowConsumer {
		t.Fatalf("close = %d %q, want %d", ce.Code, ce.Text, CloseSlowConsumer)
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

	again := dial(t, th.url, nil)
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
