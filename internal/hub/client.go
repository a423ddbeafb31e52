package hub

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"

	"github.com/backupd/backupd/internal/domain"
)

// client is one WebSocket session.
type client struct {
	h    *Hub
	conn *websocket.Conn
	id   string
	log  *slog.Logger
	// fanOut limits the register and message messages this session may
	// have sent to every client (read pump only).
	fanOut *rate.Limiter

	// queue is the bounded queue between the hub and the write pump; it is
	// never closed, only abandoned.
	queue chan outgoing
	// queued is the bytes of the frames queued for c and not yet written
	// or dropped, those a worker handed to the pump included: what
	// Options.QueueBytes bounds. A frame shared with other clients counts
	// for each of them.
	queued atomic.Int64
	// closeNow is closed once (by kickLocked) to make the write pump send
	// closeCode/closeReason at once, ahead of whatever is queued.
	closeNow chan struct{}
	// readDone is closed when the read pump has returned.
	readDone chan struct{}
	// raw writes to the socket without waiting (worker.go); nil if the
	// connection is not a socket.
	raw syscall.RawConn
	// For a TLS connection over a socket, tlsConn is the connection and
	// tlsRaw the socket under it, whose free room tells a worker whether a
	// write would wait (worker.go).
	tlsConn *tls.Conn
	tlsRaw  syscall.RawConn

	// Who writes the queue out (worker.go); guarded by wmu. handoff
	// passes the write side from a worker to the pump.
	wmu     sync.Mutex
	wcond   *sync.Cond
	owner   int
	handoff chan handoff

	// Guarded by h.mu.
	proto       int  // 1 until a hello says 2
	live        bool // a protocol 2 client that finished its replay
	joinHead    int64
	closing     bool // kicked, or a close frame is queued
	closeCode   int
	closeReason string
	slowWhy     string // for a slow-consumer close: which bound it passed
	announced   bool   // socket_disconnect already sent for it

	// Set at hello, before the replay is queued; read-only afterwards.
	sources map[string]bool
	types   map[string]bool

	// lastID is the last stored event id written; write pump only.
	lastID int64
	// Write pump only: the frames of the batch being written, and the
	// buffer replayed events are encoded into.
	batch     net.Buffers
	replayBuf []byte
	encBuf    []byte
	// A large replayed event is written from encBuf behind its own
	// header, not copied into replayBuf.
	replayHdr  []byte
	replayBig  []byte
	replayN    int   // events in replayBuf and replayBig
	replayLast int64 // the newest of them
	// replayWrote is set once a replayed page has reached the peer.
	replayWrote bool
}

// outgoing is one item of a client's queue: a message, or a control item
// for the write pump. It is two pointers, because every client's queue is
// allocated at its full size up front: at 256 items that is 4 KiB a client.
type outgoing struct {
	*message
	ctl *control // nil for a message
}

// message is a framed message (see frame.go), shared by every client it
// was queued for.
type message struct {
	frame []byte
	id    int64 // stored event id, 0 for anything else
}

// control is a queue item only the write pump handles.
type control struct {
	// replay, when set, makes the write pump replay from *replay and then
	// join the live stream.
	replay *int64
	// closeCode, when set, makes the write pump send a close frame and stop.
	closeCode   int
	closeReason string
}

// byWorkers reports whether the hub's workers can write to c without
// waiting; if not, its pump writes everything.
func (c *client) byWorkers() bool { return c.raw != nil || c.tlsRaw != nil }

// send returns a queue item for a framed message.
func send(frame []byte, id int64) outgoing { return outgoing{message: &message{frame, id}} }

// match reports whether a protocol 2 client's filters let ev through. An
// event without a source (a test message) passes any source filter.
func (c *client) match(ev domain.Event) bool {
	if len(c.types) > 0 && !c.types[ev.Type] {
		return false
	}
	if len(c.sources) > 0 && ev.Source != "" && !c.sources[ev.Source] {
		return false
	}
	return true
}

// register adds c and queues its greeting in the same critical section, so
// socket_connected is always its first message. It fails once the hub is
// closed.
func (h *Hub) register(c *client) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	h.clients[c] = struct{}{}
	wsClients.Inc()
	h.wg.Add(1) // the write pump; the read pump runs in ServeHTTP
	h.enqueueLocked(c, send(h.mustPrepare(greeting(c.id)), 0))
	return true
}

// unregister removes c and tells the protocol 1 clients it has gone,
// unless the whole hub is going away.
func (h *Hub) unregister(c *client) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.removeLocked(c)
	if !h.closed && !c.announced {
		c.announced = true
		h.broadcastP1Locked(socketDisconnect(c.id))
	}
}

func (h *Hub) removeLocked(c *client) {
	if _, ok := h.clients[c]; ok {
		delete(h.clients, c)
		wsClients.Dec()
	}
}

// enqueueLocked puts m on c's queue or, if the queue is full in messages
// or in bytes, closes c as a slow consumer. It never waits. A frame larger
// than the whole byte budget is still queued for a client that has nothing
// else queued, or no client could ever get it.
func (h *Hub) enqueueLocked(c *client, m outgoing) {
	if c.closing {
		return
	}
	var size int64
	if m.message != nil {
		size = int64(len(m.frame))
		if q := c.queued.Load(); q > 0 && q+size > h.opt.QueueBytes {
			h.kickSlowLocked(c, fmt.Sprintf("more than %d bytes queued", h.opt.QueueBytes))
			return
		}
	}
	select {
	case c.queue <- m:
		c.queued.Add(size)
		h.scheduleLocked(c)
	default:
		h.kickSlowLocked(c, fmt.Sprintf("more than %d messages queued", cap(c.queue)))
	}
}

// kickSlowLocked closes c as a slow consumer; why names the bound it passed.
func (h *Hub) kickSlowLocked(c *client, why string) {
	if c.closing {
		return
	}
	c.slowWhy = why
	h.kickLocked(c, CloseSlowConsumer, "")
}

// enqueue is enqueueLocked for the read pump.
func (h *Hub) enqueue(c *client, m outgoing) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.enqueueLocked(c, m)
}

// kickLocked makes c's write pump send a close frame with code ahead of
// anything queued. c stops receiving events at once.
func (h *Hub) kickLocked(c *client, code int, reason string) {
	if c.closing {
		return
	}
	c.closing, c.closeCode, c.closeReason = true, code, reason
	h.removeLocked(c)
	close(c.closeNow)
	c.dropQueued()
	if code == CloseSlowConsumer {
		wsSlowDisconnects.Inc()
		c.log.Warn("slow consumer disconnected", "bound", c.slowWhy, "queued_bytes", c.queued.Load())
		if h.testHookKick != nil {
			h.testHookKick(c)
		}
	}
}

// dropQueued lets go of what is queued for a kicked client: the close frame
// goes ahead of it, so none of it will be sent, and the frames can be
// collected while the pump is still busy with the peer. A worker that owns
// c may be taking items at the same time; each item goes to one of them.
func (c *client) dropQueued() {
	for {
		select {
		case m := <-c.queue:
			if m.message != nil {
				c.queued.Add(-int64(len(m.frame)))
			}
		default:
			return
		}
	}
}

// closeAfterQueued queues a close frame behind what is already queued (an
// error message, a socket_disconnect), so the client reads those first.
func (h *Hub) closeAfterQueued(c *client, code int, reason string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.enqueueLocked(c, outgoing{ctl: &control{closeCode: code, closeReason: reason}})
	c.closing = true
	h.removeLocked(c)
}

// join makes a replaying protocol 2 client live. It succeeds when the
// replay has reached the published head, or when force is set; joinHead is
// then the id up to which the client must still replay from the store,
// while everything published after it goes through the queue.
func (h *Hub) join(c *client, last int64, force bool) (joinHead int64, ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case c.closing:
		return 0, false
	case h.head <= last:
		c.joinHead = last // the store may be ahead of what was published
	case force:
		c.joinHead = h.head
	default:
		return 0, false
	}
	c.live = true
	return c.joinHead, true
}
