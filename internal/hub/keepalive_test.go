package hub

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/backupd/backupd/internal/domain"
)

// TestKeepAlive: a peer that answers pings stays, one that does not is
// dropped once the pong wait runs out.
//
// The interval is long against the scheduling delays of a loaded machine
// (-race, CPU hogs and other test binaries on two cores): a ping or its
// pong may come up to a whole interval late before the pong wait (2x the
// interval) runs out. It is still timing, so the live peer must only
// survive three pings, i.e. past the first pong wait, and every wait has a
// deadline.
func TestKeepAlive(t *testing.T) {
	const interval = time.Second
	th := newTestHub(t, Options{PingInterval: interval})

	alive := dial(t, th.url, nil)
	pings := make(chan struct{}, 16)
	alive.SetPingHandler(func(data string) error {
		select {
		case pings <- struct{}{}:
		default:
		}
		return alive.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(waitLimit))
	})
	// The live one reads all along, which is what makes gorilla answer
	// the pings (through the handler above). It ends when the test closes
	// the connection.
	aliveDone := make(chan error, 1)
	go func() {
		for {
			if _, _, err := alive.NextReader(); err != nil {
				aliveDone <- err
				return
			}
		}
	}()

	dead := dial(t, th.url, nil)
	dead.SetPingHandler(func(string) error { return nil }) // never answers
	// The dead peer's reads end when the server drops it; no close frame
	// can be expected from a server that gave up on the peer. Each read
	// has a deadline (next), so a server that never drops it fails here.
	dead.greeted()
	for {
		if _, err := dead.next(); err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) && ce.Code != websocket.CloseAbnormalClosure {
				t.Fatalf("dead peer: got close %d, want the connection dropped", ce.Code)
			}
			var ne interface{ Timeout() bool }
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("dead peer: still connected after %s, want it dropped after %s", waitLimit, 2*interval)
			}
			break
		}
	}

	for i := range 3 {
		select {
		case <-pings:
		case err := <-aliveDone:
			t.Fatalf("the peer that answers pings was dropped after %d pings: %v", i, err)
		case <-time.After(waitLimit):
			t.Fatalf("got %d pings in %s, want 3 (interval %s)", i, waitLimit, interval)
		}
	}
	select {
	case err := <-aliveDone:
		t.Fatalf("the peer that answers pings was dropped: %v", err)
	default:
	}
}

// TestReplayChasingHead publishes during every page of a replay, so the
// replay never catches up by itself and must join at the published head,
// then replay the rest, without a gap or a duplicate.
func TestReplayChasingHead(t *testing.T) {
	th := newTestHub(t, Options{QueueSize: 4096})
	th.publishN(2 * replayPage)
	var chase atomic.Bool
	chase.Store(true)
	th.store.onList = func() error {
		if chase.Load() { // only the one replaying write pump calls this
			th.publishN(replayPage + 1)
		}
		return nil
	}
	c := dial(t, th.url, nil)
	_, replayed := c.hello(`{"eventType":"hello","protocol":2,"since":0}`)
	chase.Store(false)
	last := th.publish(domain.EventBackupSucceeded, "a", nil).ID
	ids := make([]int64, 0, last)
	for _, m := range replayed {
		ids = append(ids, idOf(m))
	}
	ids = append(ids, collect(t, c, last)...)
	for i, id := range ids {
		if id != int64(i+1) {
			t.Fatalf("event %d has id %d (got %d events, want %d)", i, id, len(ids), last)
		}
	}
	if int64(len(ids)) != last {
		t.Fatalf("got %d events, want %d", len(ids), last)
	}
}

// TestReplayFailure: a store error is told to the client, which is closed
// with 1011 and can retry with the same since.
func TestReplayFailure(t *testing.T) {
	th := newTestHub(t, Options{})
	th.publishN(3)
	th.store.onList = func() error { return fmt.Errorf("disk on fire") }
	c := dial(t, th.url, nil)
	c.greeted()
	c.send(`{"eventType":"hello","protocol":2,"since":0}`)
	c.read() // welcome
	if m := c.read(); m["code"] != "replay_failed" {
		t.Fatalf("got %v", m)
	}
	c.expectClose(websocket.CloseInternalServerErr)
}
