package hub

import (
	"errors"
	"net"
	"os"
	"syscall"
	"time"
)

// Live fan-out is written by a few hub workers, not by each client's write
// pump. Waking one goroutine per client per event put thousands of
// goroutines in the run queue at once, and everything else in the daemon
// (the commit that produces the next event, the catalog watcher) waited
// behind them. A worker takes a client that has something queued, writes
// what is queued in one non-blocking system call and moves on; a client
// that has fallen behind thus gets several events per write.
//
// A worker never waits on a client: when the socket cannot take the whole
// batch, or the queue holds something other than a frame (a replay, a close),
// it hands the client to the client's own write pump, which may block (up to
// writeWait) without delaying anyone else, and gives it back to the workers
// once its queue is empty.
//
// A TLS connection cannot be written in part without waiting: a TLS write
// that times out breaks it. A worker writes one only when the socket under
// it has room for the whole batch (sendRoom), and hands it to the pump
// otherwise. Handing every write to a pump goroutine, as before, woke
// thousands of them per event: in interleaved BenchmarkFanoutTLS runs the
// hub spent 8.6-9.0 µs of CPU per TLS delivery that way and 6.0-7.0 µs
// this way (4.6-5.4 over plain TCP); p99 moved with the machine's load
// more than with either.
//
// Who writes a client's data is c.owner, guarded by c.wmu: nobody (the
// queue is empty), a worker, or the pump. Whoever queues an item to an
// unowned client schedules it for the workers.

const (
	ownerNone = iota
	ownerWorker
	ownerPump
)

// handoff is what a worker passes to the pump along with the client.
type handoff struct {
	item *outgoing // an item only the pump handles
	// rest is the unwritten end of a batch; it may start mid-frame. It
	// refers to the shared frames, never to a copy: a thousand stalled
	// clients then hold one copy of an event, not a thousand.
	rest   net.Buffers
	bytes  int64 // queued bytes the batch took (see client.queued)
	last   int64 // the newest stored event id in rest
	failed bool  // the connection is broken
}

// scheduleLocked is called after queueing for c (under h.mu).
func (h *Hub) scheduleLocked(c *client) {
	c.wmu.Lock()
	sched := c.owner == ownerNone
	if sched {
		c.owner = ownerWorker
		if !c.byWorkers() {
			c.owner = ownerPump
		}
	}
	c.wmu.Unlock()
	if !sched {
		return
	}
	if !c.byWorkers() {
		c.wakePump()
		return
	}
	if h.batching {
		h.readyBatch = append(h.readyBatch, c)
		return
	}
	h.readyMu.Lock()
	h.ready = append(h.ready, c)
	h.readyMu.Unlock()
	h.readyCond.Signal()
}

// startBatchLocked makes scheduleLocked gather the clients that become
// ready, for a broadcast to hand them to the workers in one go.
func (h *Hub) startBatchLocked() { h.batching = true }

// endBatchLocked hands the gathered clients to the workers.
func (h *Hub) endBatchLocked() {
	h.batching = false
	if len(h.readyBatch) == 0 {
		return
	}
	h.readyMu.Lock()
	h.ready = append(h.ready, h.readyBatch...)
	h.readyMu.Unlock()
	h.readyCond.Broadcast()
	clear(h.readyBatch)
	h.readyBatch = h.readyBatch[:0]
}

// readyGrab is how many clients a worker takes from the ready list at once.
const readyGrab = 32

// worker writes for ready clients until the hub closes.
func (h *Hub) worker() {
	defer h.workers.Done()
	var (
		grab []*client
		sc   scratch
	)
	for {
		h.readyMu.Lock()
		for len(h.ready) == 0 && !h.stopping {
			h.readyCond.Wait()
		}
		if len(h.ready) == 0 {
			h.readyMu.Unlock()
			return
		}
		n := min(len(h.ready), readyGrab)
		grab = append(grab[:0], h.ready[:n]...)
		h.ready = h.ready[n:]
		if len(h.ready) == 0 {
			h.ready = h.ready[:0:0] // let the backing array go
		}
		h.readyMu.Unlock()
		for i, c := range grab {
			c.serve(&sc)
			grab[i] = nil
		}
	}
}

// scratch is a worker's reusable buffers.
type scratch struct {
	buf    []byte   // the frames of a batch gathered for one write
	frames [][]byte // the same frames, as they are shared
}

// serve writes what is queued for c, which the calling worker owns, and
// then releases c or hands it to its pump.
func (c *client) serve(sc *scratch) {
	for {
		// The usual case is one frame: it is written as it is; more are
		// gathered into sc.buf for one write.
		var (
			out     []byte
			taken   int64
			special outgoing
			stop    bool
			last    = c.lastID
		)
		sc.buf, sc.frames = sc.buf[:0], sc.frames[:0]
	collect:
		for len(out) < maxBatchBytes {
			select {
			case m := <-c.queue:
				if m.ctl != nil {
					special, stop = m, true
					break collect
				}
				taken += int64(len(m.frame))
				if m.id != 0 && m.id <= last {
					continue // already sent by the replay
				}
				sc.frames = append(sc.frames, m.frame)
				switch {
				case out == nil:
					out = m.frame
				case len(sc.buf) == 0:
					sc.buf = append(append(sc.buf, out...), m.frame...)
					out = sc.buf
				default:
					sc.buf = append(sc.buf, m.frame...)
					out = sc.buf
				}
				if m.id != 0 {
					last = m.id
				}
			default:
				break collect
			}
		}
		select {
		case <-c.closeNow:
			// A kick wins over what was taken: lastID stays the last event
			// really sent, and the pump writes the close frame.
			c.queued.Add(-taken)
			sc.clear()
			c.release()
			return
		default:
		}
		if len(out) > 0 {
			n, err := c.writeNow(out)
			if err != nil {
				c.queued.Add(-taken)
				sc.clear()
				c.toPump(handoff{failed: true})
				return
			}
			if n < len(out) {
				h := handoff{rest: restOf(sc.frames, n), bytes: taken, last: last}
				if stop {
					h.item = &special
				}
				sc.clear()
				c.toPump(h)
				return
			}
			c.lastID = last
		}
		c.queued.Add(-taken)
		sc.clear()
		if stop {
			c.toPump(handoff{item: &special})
			return
		}
		if c.releaseIfEmpty() {
			return
		}
	}
}

// clear drops the worker's references to the frames of the last batch.
func (sc *scratch) clear() {
	clear(sc.frames)
	sc.frames = sc.frames[:0]
}

// restOf returns what is left of frames once n bytes of them are written.
func restOf(frames [][]byte, n int) net.Buffers {
	for len(frames) > 0 && n >= len(frames[0]) {
		n -= len(frames[0])
		frames = frames[1:]
	}
	rest := make(net.Buffers, len(frames))
	copy(rest, frames)
	if len(rest) > 0 {
		rest[0] = rest[0][n:]
	}
	return rest
}

// tlsWorkerWait bounds a worker's TLS write, which the room checked
// before it should keep from waiting at all. A TLS write that times out
// breaks the connection for good, so a peer that makes one wait this long
// is dropped; it resumes with since=<last id> like any other.
const tlsWorkerWait = 250 * time.Millisecond

// writeNow writes as much of b as the socket takes now, without waiting.
func (c *client) writeNow(b []byte) (int, error) {
	if c.raw == nil {
		return c.writeTLSNow(b)
	}
	var (
		n    int
		werr error
	)
	write := func(fd uintptr) bool {
		for {
			n, werr = syscall.Write(int(fd), b)
			if werr != syscall.EINTR {
				break
			}
		}
		if werr == syscall.EAGAIN {
			n, werr = 0, nil
		}
		n = max(n, 0)
		return true
	}
	err := c.raw.Write(write)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		// A deadline left by an earlier blocking write has passed; this
		// write does not wait, so it needs none.
		_ = c.conn.NetConn().SetWriteDeadline(time.Time{})
		err = c.raw.Write(write)
	}
	if err == nil {
		err = werr
	}
	if err != nil {
		c.log.Debug("write", "err", err)
		return n, err
	}
	return n, nil
}

// writeTLSNow writes b to a TLS connection if the socket under it has
// room for b's records, else nothing: the pump then writes it, and may
// wait. A TLS connection cannot be written in part and resumed, as a
// socket can, so it is all of b or none.
func (c *client) writeTLSNow(b []byte) (int, error) {
	if c.tlsConn == nil || sendRoom(c.tlsRaw) < 2*len(b)+tlsRoomSlack {
		return 0, nil
	}
	_ = c.tlsConn.SetWriteDeadline(time.Now().Add(tlsWorkerWait))
	n, err := c.tlsConn.Write(b)
	if err != nil {
		c.log.Debug("write", "err", err)
	}
	return n, err
}

// tlsRoomSlack is room kept beyond twice the bytes written: the records'
// headers and tags, and the kernel's own accounting.
const tlsRoomSlack = 4 << 10

// releaseIfEmpty gives up the write side unless more was queued meanwhile.
func (c *client) releaseIfEmpty() bool {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if len(c.queue) > 0 {
		return false
	}
	c.owner = ownerNone
	c.wcond.Broadcast()
	return true
}

// release gives up the write side whatever is queued (the client is being
// closed).
func (c *client) release() {
	c.wmu.Lock()
	c.owner = ownerNone
	c.wcond.Broadcast()
	c.wmu.Unlock()
}

// toPump hands the write side to c's write pump.
func (c *client) toPump(m handoff) {
	c.wmu.Lock()
	c.owner = ownerPump
	c.wcond.Broadcast()
	c.wmu.Unlock()
	c.handoff <- m // buffered, and only one handoff is ever pending
}

// wakePump makes the pump, which now owns the write side, write what is
// queued. A worker cannot write without waiting to a connection that is
// neither a socket nor TLS over one whose room it can tell (byWorkers),
// so such a client goes to its pump at once rather than through a worker
// that could only hand it over. If a handoff is already pending, it makes
// the pump drain the queue anyway.
func (c *client) wakePump() {
	select {
	case c.handoff <- handoff{}:
	default:
	}
}

// acquire makes the pump the owner of the write side, waiting for a worker
// that is writing (which never waits on the peer) to finish.
func (c *client) acquire() {
	c.wmu.Lock()
	for c.owner == ownerWorker {
		c.wcond.Wait()
	}
	c.owner = ownerPump
	c.wmu.Unlock()
}

// giveBack returns the write side to the workers, or to nobody if the
// queue is empty. A client that is not a socket (TLS) stays with its pump.
func (c *client) giveBack() {
	c.wmu.Lock()
	sched := len(c.queue) > 0
	switch {
	case sched && !c.byWorkers():
		c.owner = ownerPump
	case sched:
		c.owner = ownerWorker
	default:
		c.owner = ownerNone
	}
	c.wmu.Unlock()
	if sched && !c.byWorkers() {
		c.wakePump()
		return
	}
	if sched {
		h := c.h
		h.readyMu.Lock()
		h.ready = append(h.ready, c)
		h.readyMu.Unlock()
		h.readyCond.Signal()
	}
}
