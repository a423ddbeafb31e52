package hub

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/backupd/backupd/internal/domain"
)

// TestReplayBudget: a client that says hello with since=0 and never reads
// holds, while its write is blocked, the page it was replaying. Once
// another replay needs the daemon-wide budget, the stalled one is closed
// as a slow consumer and lets go of it, while the other gets every event.
//
// It runs with a store that bounds its pages in bytes (as the catalog
// does) and with one that does not, whose pages the hub sizes itself.
func TestReplayBudget(t *testing.T) {
	for _, bounded := range []bool{true, false} {
		t.Run(fmt.Sprintf("bounded=%v", bounded), func(t *testing.T) {
			th := newTestHub(t, Options{TotalBytes: 512 << 10})
			if bounded {
				th.Hub.store = byteStore{th.store}
			}
			testReplayBudget(t, th)
		})
	}
}

// byteStore is a memStore that bounds its pages in bytes.
type byteStore struct{ *memStore }

func (s byteStore) ListEventsBytes(ctx context.Context, since int64, limit int, maxBytes int64) ([]domain.Event, error) {
	evs, err := s.ListEvents(ctx, since, limit)
	var size int64
	for i, ev := range evs {
		if size >= maxBytes {
			return evs[:i], err
		}
		size += int64(len(ev.Data))
	}
	return evs, err
}

func testReplayBudget(t *testing.T, th *testHub) {
	kicked := make(chan *client, 4)
	th.mu.Lock()
	th.testHookKick = func(c *client) {
		select {
		case kicked <- c:
		default:
		}
	}
	th.mu.Unlock()
	// 300 events of 64 KiB: more than the kernel buffers of one loopback
	// connection whose reader has a small receive buffer and never reads.
	pad := json.RawMessage(`{"pad":"` + strings.Repeat("x", 64<<10) + `"}`)
	for range 300 {
		th.publish(domain.EventBackupSucceeded, "db", pad)
	}

	d := *websocket.DefaultDialer
	d.NetDialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err == nil {
			_ = conn.(*net.TCPConn).SetReadBuffer(4 << 10)
		}
		return conn, err
	}
	stalled := dialWith(t, &d, th.url, nil)
	stalledID := stalled.greeted()
	stalled.send(`{"eventType":"hello","protocol":2,"since":0}`)
	// Only a write blocked for stallAfter makes a client one the budget
	// may close; until then a reader that is slow for a moment (under
	// -race, on a loaded machine) could be the one whose write is older.
	eventually(t, "the stalled client's write to be blocked", func() bool {
		th.mu.Lock()
		defer th.mu.Unlock()
		for c := range th.clients {
			if c.id == stalledID && th.replay.blockedFor(c) > stallAfter {
				return true
			}
		}
		return false
	})

	// A reading client replays everything. Its first page finds the
	// stalled client holding its bytes with its write blocked.
	for round := 1; ; round++ {
		c := dial(t, th.url, nil)
		_, replayed := c.hello(`{"eventType":"hello","protocol":2,"since":0}`)
		if len(replayed) != 300 {
			t.Fatalf("round %d: replayed %d events, want 300", round, len(replayed))
		}
		for i, m := range replayed {
			if idOf(m) != int64(i+1) {
				t.Fatalf("round %d: replayed[%d] has id %d", round, i, idOf(m))
			}
		}
		c.Close()
		select {
		case k := <-kicked:
			if k.id != stalledID {
				t.Fatalf("closed client %s, want the stalled one %s", k.id, stalledID)
			}
			eventually(t, "the replays to let go of their bytes", func() bool { return th.replay.inUse() == 0 })
			return
		default:
		}
		if round == 100 {
			t.Fatal("the stalled client was never closed")
		}
	}
}

// TestReplayBudgetLine: replays wait in line for room, a proven one (its
// peer has read a page) ahead of those that have not; a writer blocked for
// stallAfter is chosen to be closed, one that is not is waited for.
func TestReplayBudgetLine(t *testing.T) {
	b := newReplayBudget(100)
	stalled, reader, fresh1, fresh2 := &client{}, &client{}, &client{}, &client{}
	if _, _, ok := b.take(stalled, 80, true, false); !ok {
		t.Fatal("first take refused")
	}
	b.writing(stalled, true)
	b.held[stalled].writing = time.Now().Add(-time.Minute) // blocked long ago
	// The stalled writer qualifies: it is chosen, and its bytes count as
	// given back at once.
	if victims, _, ok := b.take(fresh1, 80, true, false); !ok || len(victims) != 1 || victims[0] != stalled {
		t.Fatalf("take = %v, %v; want the stalled writer closed", victims, ok)
	}
	// fresh1 now holds 80 and is not writing: nobody can be closed.
	victims, next, ok := b.take(fresh2, 80, true, false)
	if ok || len(victims) != 0 || next != 0 {
		t.Fatalf("take = %v, %v, %v; want to wait without a timer", victims, next, ok)
	}
	w2 := b.enqueue(fresh2, false)
	wr := b.enqueue(reader, true)
	if b.waiters[0] != wr || b.waiters[1] != w2 {
		t.Fatal("the proven replay does not wait ahead of the new one")
	}
	if _, _, ok := b.take(fresh2, 80, true, false); ok {
		t.Fatal("a replay that is not first in line took room")
	}
	// A writer that has not been blocked long enough: the first in line
	// waits until it will have been. (Its write is dated an hour ahead so
	// that no delay of this test's own can make it qualify.)
	b.writing(fresh1, true)
	b.held[fresh1].writing = time.Now().Add(time.Hour)
	if _, next, ok := b.take(reader, 80, true, true); ok || next < time.Hour {
		t.Fatalf("take = %v, next %v; want to wait for the writer to qualify in an hour", ok, next)
	}
	b.release(stalled)
	b.release(fresh1)
	select {
	case <-wr.wake:
	default:
		t.Fatal("the first in line was not woken when room was given back")
	}
	if _, _, ok := b.take(reader, 80, true, true); !ok {
		t.Fatal("the first in line could not take the room given back")
	}
	b.dequeue(wr)
	select {
	case <-w2.wake:
	default:
		t.Fatal("the next in line was not woken")
	}
}
