package hub

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/backupd/backupd/internal/domain"
)

var (
	testSources = []string{"a", "b", "c"}
	testTypes   = []string{domain.EventBackupSucceeded, domain.EventBackupFailed, domain.EventBackupQueued, domain.EventBackupStarted}
)

// publishN publishes n events whose source and type vary independently.
func (th *testHub) publishN(n int) {
	for range n {
		i := len(th.store.events) // only this goroutine adds
		th.publish(testTypes[(i/3)%len(testTypes)], testSources[i%len(testSources)], []byte(fmt.Sprintf(`{"n":%d}`, i+1)))
	}
}

// collect reads protocol 2 events until it has seen id last, and returns
// the ids in the order received.
func collect(t *testing.T, c *testConn, last int64) []int64 {
	var ids []int64
	for {
		m, err := c.next()
		if err != nil {
			t.Errorf("after %d events: %v", len(ids), err)
			return ids
		}
		if m["eventType"] != "event" {
			continue // welcome, and protocol 1 traffic before it
		}
		ids = append(ids, idOf(m))
		if idOf(m) >= last {
			return ids
		}
	}
}

// TestReplayThenLiveNoGapNoDuplicate connects clients with various since
// values while a goroutine publishes thousands of events, and checks each
// sees exactly the ids after its since, in order.
func TestReplayThenLiveNoGapNoDuplicate(t *testing.T) {
	const (
		before = 1000 // stored before anyone connects
		step   = 500  // published between two connects
		conns  = 8
		total  = before + step*conns
	)
	// The queue holds everything: this test is about the seam, not about
	// slow consumers.
	th := newTestHub(t, Options{QueueSize: total + 16})
	th.publishN(before)

	type result struct {
		since int64
		ids   []int64
	}
	results := make([]result, conns)
	var readers sync.WaitGroup
	next := make(chan struct{})
	go func() {
		// The publisher runs on while each client says hello.
		for range conns {
			th.publishN(step)
			next <- struct{}{}
		}
		close(next)
	}()
	for i := range conns {
		recv(t, next, "the publisher")
		since := int64(i * before / conns)
		c := dial(t, th.url, nil)
		c.send(fmt.Sprintf(`{"eventType":"hello","protocol":2,"since":%d}`, since))
		readers.Add(1)
		go func() {
			defer readers.Done()
			results[i] = result{since, collect(t, c, total)}
		}()
	}
	recv(t, next, "the publisher to finish")
	waitGroup(t, &readers, "every client to read up to the last event")
	for _, r := range results {
		want := make([]int64, 0, total)
		for id := r.since + 1; id <= total; id++ {
			want = append(want, id)
		}
		if !slices.Equal(r.ids, want) {
			t.Errorf("since=%d: got %d ids (first %v), want %d consecutive from %d", r.since, len(r.ids), r.ids[:min(5, len(r.ids))], len(want), r.since+1)
		}
	}
}

// TestFilters checks source and type filters, in replay and live alike.
func TestFilters(t *testing.T) {
	th := newTestHub(t, Options{QueueSize: 1024})
	th.publishN(300)
	c := dial(t, th.url, nil)
	_, replayed := c.hello(`{"eventType":"hello","protocol":2,"since":0,"sources":["a"],"types":["backup.succeeded"]}`)
	th.publishN(300)
	th.Broadcast(domain.Event{Type: domain.EventBackupProgress, Source: "b"}) // filtered out
	th.Broadcast(domain.Event{Type: domain.EventBackupSucceeded, Source: "a", Data: []byte(`{"x":1}`)})
	last := th.publish(domain.EventBackupSucceeded, "a", nil)

	var got []int64
	for _, m := range replayed {
		got = append(got, idOf(m))
	}
	ephemeral := 0
	for id := int64(0); id != last.ID; {
		m := c.read()
		if m["ephemeral"] == true {
			ephemeral++
			continue
		}
		id = idOf(m)
		got = append(got, id)
	}
	var want []int64
	for _, ev := range th.store.events {
		if ev.Source == "a" && ev.Type == domain.EventBackupSucceeded {
			want = append(want, ev.ID)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("got ids %v\nwant %v", got, want)
	}
	if ephemeral != 1 {
		t.Errorf("got %d ephemeral events, want the 1 matching", ephemeral)
	}
}

// TestProtocol2Message checks the exact shape of a protocol 2 event.
func TestProtocol2Message(t *testing.T) {
	th := newTestHub(t, Options{})
	c := dial(t, th.url, nil)
	welcome, _ := c.hello(`{"eventType":"hello","protocol":2}`)
	if welcome["head"] != 0.0 || welcome["protocol"] != 2.0 || len(welcome["client_id"].(string)) != 36 {
		t.Fatalf("welcome = %v", welcome)
	}
	th.publish(domain.EventBackupSucceeded, "db", []byte(`{"id":1,"status":"succeeded"}`))
	c.expect(`{"eventType":"event","id":1,"type":"backup.succeeded","backup_id":1,"source":"db","time":"2026-01-02T03:04:05Z","data":{"id":1,"status":"succeeded"}}`)
}

// TestEphemeral checks that a broadcast reaches protocol 1 and 2 clients
// live, and that a later replay has only stored events.
func TestEphemeral(t *testing.T) {
	th := newTestHub(t, Options{})
	p1 := dial(t, th.url, nil)
	p1ID := p1.greeted()
	p2 := dial(t, th.url, nil)
	p2.hello(`{"eventType":"hello","protocol":2,"since":0}`)

	th.Broadcast(domain.Event{Type: domain.EventBackupProgress, BackupID: 7, Source: "db", Data: []byte(`{"bytes_done":42}`)})
	p1.expect(`{"eventType":"backup.progress","socket_data":{"bytes_done":42}}`)
	m := p2.read()
	if m["eventType"] != "event" || m["ephemeral"] != true || m["id"] != 0.0 || m["type"] != "backup.progress" || m["backup_id"] != 7.0 {
		t.Fatalf("p2 got %v", m)
	}

	p1.send(`{"eventType":"message","socket_data":"test"}`)
	p1.expect(fmt.Sprintf(`{"eventType":"message","socket_data":{"id":%q,"text":"test"}}`, p1ID))
	m = p2.read()
	if m["type"] != "message" || m["ephemeral"] != true || m["data"].(map[string]any)["text"] != "test" {
		t.Fatalf("p2 got %v", m)
	}

	th.publish(domain.EventBackupSucceeded, "db", nil)
	late := dial(t, th.url, nil)
	_, replayed := late.hello(`{"eventType":"hello","protocol":2,"since":0}`)
	if len(replayed) != 1 || idOf(replayed[0]) != 1 || replayed[0]["ephemeral"] != nil {
		t.Fatalf("replay = %v, want only stored event 1", replayed)
	}
}

// TestSinceBeyondHead: nothing at or below since is ever sent.
func TestSinceBeyondHead(t *testing.T) {
	th := newTestHub(t, Options{})
	th.publishN(3)
	c := dial(t, th.url, nil)
	_, replayed := c.hello(`{"eventType":"hello","protocol":2,"since":5}`)
	if len(replayed) != 0 {
		t.Fatalf("replayed %v", replayed)
	}
	th.publishN(3)
	if m := c.read(); idOf(m) != 6 {
		t.Fatalf("got %v, want id 6", m)
	}
}

// TestCloseGoingAway checks Close says 1001 to every client.
func TestCloseGoingAway(t *testing.T) {
	th := newTestHub(t, Options{})
	a := dial(t, th.url, nil)
	a.greeted()
	b := dial(t, th.url, nil)
	b.hello(`{"eventType":"hello","protocol":2}`)
	if got := th.Clients(); got != 2 {
		t.Fatalf("Clients() = %d, want 2", got)
	}
	done := make(chan struct{})
	go func() { th.Close(); close(done) }()
	a.expectClose(websocket.CloseGoingAway)
	b.expectClose(websocket.CloseGoingAway)
	recv(t, done, "Close to return")
	if got := th.Clients(); got != 0 {
		t.Fatalf("Clients() after Close = %d", got)
	}
}
