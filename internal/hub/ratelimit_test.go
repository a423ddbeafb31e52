package hub

import (
	"fmt"
	"testing"
)

// TestFanOutRateLimited: a session that sends messages as fast as it can
// gets each one either broadcast or refused with rate_limited, never
// both and never neither, and stays connected.
func TestFanOutRateLimited(t *testing.T) {
	th := newTestHub(t, Options{QueueSize: 1024})
	c := th.dial(t)
	c.greeted()
	const n = 200
	for i := range n {
		c.send(fmt.Sprintf(`{"eventType":"message","socket_data":"m%d"}`, i))
	}
	c.send(`{"eventType":"ping"}`)
	var sent, refused int
	for {
		m := c.read()
		switch {
		case m["eventType"] == "message":
			sent++
		case m["eventType"] == "error" && m["code"] == codeRateLimited:
			refused++
		case m["eventType"] == "pong":
			if sent+refused != n {
				t.Fatalf("%d broadcast and %d refused, want %d in all", sent, refused, n)
			}
			if refused == 0 || sent < fanOutBurst {
				t.Fatalf("%d broadcast and %d refused: want the first %d through and the rest limited", sent, refused, fanOutBurst)
			}
			return
		default:
			t.Fatalf("unexpected %v", m)
		}
	}
}
