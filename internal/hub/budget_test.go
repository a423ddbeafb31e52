package hub

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"testing"

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
	eventually(t, "the stalled client's replay to hold bytes", func() bool { return th.replay.inUse() > 0 })

	// A reading client replays everything. Every page it takes finds the
	// stalled client holding its bytes, once its write is blocked; should
	// that not have happened yet, the reader says hello again.
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
