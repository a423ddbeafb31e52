package hub

import (
	"crypto/tls"
	"fmt"
	"testing"

	"github.com/backupd/backupd/internal/domain"
)

// TestTLS serves the hub over TLS, where the connection is a *tls.Conn and
// not a socket: the workers cannot write to it, so its pump writes
// everything. Greeting, replay, the seam to live, live events and
// ephemeral ones must all come as over plain TCP.
func TestTLS(t *testing.T) {
	// The queue holds a burst of 300: this test is about TLS, not about
	// slow consumers.
	th := newTestHubTLS(t, Options{QueueSize: 1024})
	th.publishN(1200) // more than two replay pages
	c := th.dial(t)
	if _, ok := c.NetConn().(*tls.Conn); !ok {
		t.Fatalf("client connection is %T, want *tls.Conn", c.NetConn())
	}
	th.mu.Lock()
	for cl := range th.clients {
		if cl.raw != nil {
			t.Errorf("server side of a TLS session has a raw socket")
		}
		if tlsByWorkers && cl.tlsRaw == nil {
			t.Errorf("server side of a TLS session has no socket for the workers to look at")
		}
	}
	th.mu.Unlock()

	_, replayed := c.hello(`{"eventType":"hello","protocol":2,"since":0}`)
	if len(replayed) != 1200 {
		t.Fatalf("replayed %d events, want 1200", len(replayed))
	}
	for i, m := range replayed {
		if idOf(m) != int64(i+1) {
			t.Fatalf("replayed[%d] has id %d", i, idOf(m))
		}
	}
	th.publishN(300)
	for i, id := range collect(t, c, 1500) {
		if id != int64(1201+i) {
			t.Fatalf("live event %d has id %d, want %d", i, id, 1201+i)
		}
	}
	th.Broadcast(domain.Event{Type: domain.EventBackupProgress, Source: "a", Data: []byte(`{"bytes_done":1}`)})
	if m := c.read(); m["ephemeral"] != true || m["type"] != "backup.progress" {
		t.Fatalf("got %v, want the progress tick", m)
	}

	// A protocol 1 client over TLS: greeting, ping, a stored event.
	p1 := th.dial(t)
	p1.greeted()
	p1.send(`{"event":"ping"}`)
	p1.expect(`{"eventType":"pong"}`)
	ev := th.publish(domain.EventBackupSucceeded, "db", []byte(`{"id":3}`))
	p1.expect(fmt.Sprintf(`{"eventType":"backup","id":%d,"type":"backup.succeeded","socket_data":{"id":3}}`, ev.ID))
	if m := c.read(); idOf(m) != ev.ID {
		t.Fatalf("protocol 2 client got %v, want event %d", m, ev.ID)
	}
}
