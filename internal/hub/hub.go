// Package hub fans events out to WebSocket clients. It speaks protocol 1
// (the original eventType messages) and protocol 2 (hello/welcome, replay
// from an offset, filters); docs/protocol.md is the contract.
//
// Each connection has a read pump and a write pump, and a queue between
// the hub and its write pump bounded in messages and in bytes. Publish and
// Broadcast encode a message once per protocol and only ever try to
// enqueue it: a client whose queue is full is closed as a slow consumer,
// and recovers by reconnecting with since=<last id>, because stored events
// are durable. What replays hold is bounded for the whole hub (budget.go).
package hub

import (
	"context"
	"encoding/json"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/backupd/backupd/internal/domain"
)

// EventStore is where replayed events come from: the catalog's events table.
type EventStore interface {
	// ListEvents returns stored events with id > since, ascending, at most limit.
	ListEvents(ctx context.Context, since int64, limit int) ([]domain.Event, error)
}

// byteLister is optionally implemented by the store (the catalog does): a
// page bounded in bytes as well as in events, holding at least one event.
// Without it, the hub sizes pages by the largest event it has seen.
type byteLister interface {
	ListEventsBytes(ctx context.Context, since int64, limit int, maxBytes int64) ([]domain.Event, error)
}

// lastEventIDer is optionally implemented by the store (the catalog does),
// so that welcome can name the head before anything has been published.
type lastEventIDer interface {
	LastEventID(ctx context.Context) (int64, error)
}

// Options tune a Hub. Zero values take the defaults.
type Options struct {
	QueueSize int // per-client bounded queue, in messages (default 256)
	// QueueBytes bounds the bytes of the frames queued for one client and
	// not yet written (default 8 MiB). A frame shared by many clients
	// counts for each; a single frame above the bound is still sent to a
	// client with nothing else queued. The default is twice what the
	// catalog watcher hands over at once (4 MiB of events and the one that
	// passes it): a client that reads must not be closed for such a
	// burst. 256 ordinary events (about 500 bytes) take an eighth of a MiB.
	QueueBytes int64
	// TotalBytes bounds, across all clients, the bytes replays hold: pages
	// read from the store and their encoding, one copy per replaying
	// client (default 32 MiB; see budget.go for what it leaves out, and
	// why).
	TotalBytes     int64
	AllowedOrigins []string      // besides same-host; empty Origin header (non-browser) is allowed
	PingInterval   time.Duration // server ping (default 25s); pong wait = 2x
	Logger         *slog.Logger
}

// Defaults and fixed limits.
const (
	DefaultQueueSize    = 256
	DefaultQueueBytes   = 8 << 20
	DefaultTotalBytes   = 32 << 20
	DefaultPingInterval = 25 * time.Second
	readLimit           = 64 << 10
	writeWait           = 10 * time.Second
	// closeGrace is how long a closing session waits for the peer's close
	// frame before dropping the TCP connection; closing with unread data
	// would send a reset that can destroy the close frame we just wrote.
	closeGrace = 2 * time.Second
	replayPage = 500
	// fanOutRate and fanOutBurst bound what one session can make the hub
	// send to every client (register, message): one client sending
	// messages as fast as it can would otherwise cost a frame per client
	// per message, and push the others out as slow consumers.
	fanOutRate  = 10
	fanOutBurst = 20
)

// Hub is the WebSocket hub. Its methods are safe for concurrent use.
type Hub struct {
	store    EventStore
	opt      Options
	log      *slog.Logger
	upgrader websocket.Upgrader
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup

	// replay bounds the bytes replays hold (budget.go); largestEvent is
	// the size of the largest event seen, for the first page of a replay.
	replay       *replayBudget
	largestEvent atomic.Int64

	mu      sync.Mutex
	clients map[*client]struct{}
	head    int64 // highest id published
	closed  bool

	// The worker pool (worker.go): clients with something to write, in the
	// order they became ready. Workers stop after every pump has ended.
	readyMu   sync.Mutex
	readyCond *sync.Cond
	ready     []*client
	stopping  bool
	workers   sync.WaitGroup
	// Guarded by mu: a broadcast gathers the clients it makes ready.
	batching   bool
	readyBatch []*client

	// testHookKick, when set, is called (under mu) each time a client is
	// closed as a slow consumer; tests use it instead of polling.
	testHookKick func(*client)
}

// New returns a Hub that replays from store. Call Close to stop it.
func New(store EventStore, opt Options) *Hub {
	if opt.QueueSize <= 0 {
		opt.QueueSize = DefaultQueueSize
	}
	if opt.QueueBytes <= 0 {
		opt.QueueBytes = DefaultQueueBytes
	}
	if opt.TotalBytes <= 0 {
		opt.TotalBytes = DefaultTotalBytes
	}
	if opt.PingInterval <= 0 {
		opt.PingInterval = DefaultPingInterval
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	h := &Hub{
		store:   store,
		opt:     opt,
		log:     opt.Logger.With("component", "hub"),
		clients: make(map[*client]struct{}),
		replay:  newReplayBudget(opt.TotalBytes),
	}
	h.ctx, h.cancel = context.WithCancel(context.Background())
	h.readyCond = sync.NewCond(&h.readyMu)
	// Writes never wait on a peer but are CPU-bound system calls: a worker
	// per two CPUs leaves the rest to the read pumps and to the commit that
	// makes the next event, and a sweep over the clients then ends sooner
	// than with workers contending for every CPU.
	for range max(1, runtime.GOMAXPROCS(0)/2) {
		h.workers.Add(1)
		go h.worker()
	}
	h.upgrader = websocket.Upgrader{
		ReadBufferSize:  4096,
		WriteBufferSize: 4096,
		// Idle clients then hold no write buffer: it matters at thousands.
		WriteBufferPool: &sync.Pool{},
		CheckOrigin:     h.checkOrigin,
	}
	return h
}

// Publish sends a stored event to every matching live client. It is called
// by one goroutine in increasing id order, and never blocks on a client.
func (h *Hub) Publish(ev domain.Event) {
	ev.Ephemeral = false
	h.noteEventSize(eventBytes(len(ev.Data)))
	p1, p2 := h.prepare(ev)
	h.mu.Lock()
	defer h.mu.Unlock()
	if ev.ID <= h.head {
		h.log.Warn("event published twice or out of order; dropped", "id", ev.ID, "head", h.head)
		return
	}
	h.head = ev.ID
	eventsEmitted.Inc()
	h.fanOutLocked(ev, send(p1, ev.ID), send(p2, ev.ID))
}

// Broadcast sends an ephemeral event (a progress tick, a test message) to
// every matching live client. It is never stored, so never replayed.
func (h *Hub) Broadcast(ev domain.Event) {
	ev.ID, ev.Ephemeral = 0, true
	if ev.Time.IsZero() {
		ev.Time = time.Now().UTC()
	}
	p1, p2 := h.prepare(ev)
	m1, m2 := send(p1, 0), send(p2, 0)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.fanOutLocked(ev, m1, m2)
}

// fanOutLocked queues m1 for every protocol 1 client and m2 for every live
// protocol 2 client that ev matches. A stored event goes only to clients
// that joined before it: the rest get it from their replay.
func (h *Hub) fanOutLocked(ev domain.Event, m1, m2 outgoing) {
	h.startBatchLocked()
	defer h.endBatchLocked()
	for c := range h.clients {
		switch {
		case c.proto == 1:
			h.enqueueLocked(c, m1)
		case c.live && (ev.Ephemeral || ev.ID > c.joinHead) && c.match(ev):
			h.enqueueLocked(c, m2)
		}
	}
}

// noteEventSize keeps the size of the largest event seen.
func (h *Hub) noteEventSize(n int64) {
	for {
		cur := h.largestEvent.Load()
		if n <= cur || h.largestEvent.CompareAndSwap(cur, n) {
			return
		}
	}
}

// prepare encodes ev once for each protocol; the frames are then shared by
// every client's write pump.
func (h *Hub) prepare(ev domain.Event) (p1, p2 []byte) {
	b, err := appendP2Event(nil, ev)
	if err != nil {
		// Every value sent is built here from JSON-safe parts.
		panic("hub: encode event: " + err.Error())
	}
	return h.mustPrepare(p1Message(ev)), textFrame(b)
}

// broadcastP1Locked sends a presence message (socket_added,
// socket_disconnect) to protocol 1 clients, the only ones that know them.
func (h *Hub) broadcastP1Locked(v any) {
	m := send(h.mustPrepare(v), 0)
	h.startBatchLocked()
	defer h.endBatchLocked()
	for c := range h.clients {
		if c.proto == 1 {
			h.enqueueLocked(c, m)
		}
	}
}

// mustPrepare encodes and frames v once, for any number of clients.
func (h *Hub) mustPrepare(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		// Every value sent is built here from JSON-safe parts.
		panic("hub: encode message: " + err.Error())
	}
	return textFrame(b)
}

// Clients returns the number of connected clients.
func (h *Hub) Clients() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.clients)
}

// Close closes every client with 1001 (going away), refuses new ones, and
// waits for all of the hub's goroutines to end.
func (h *Hub) Close() {
	h.mu.Lock()
	if !h.closed {
		h.closed = true
		for c := range h.clients {
			h.kickLocked(c, websocket.CloseGoingAway, "server shutting down")
		}
	}
	h.mu.Unlock()
	h.cancel()
	h.wg.Wait()
	h.readyMu.Lock()
	h.stopping = true
	h.readyMu.Unlock()
	h.readyCond.Broadcast()
	h.workers.Wait()
}
