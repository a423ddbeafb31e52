package hub

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/gorilla/websocket"
)

// errClosing ends a replay because the client is being closed.
var errClosing = errors.New("client closing")

// Batch bounds: a pump that has fallen behind writes what is queued in
// one system call, up to this many frames or bytes.
const (
	maxBatchFrames = 128
	maxBatchBytes  = 256 << 10
)

// writePump is the client's own writer. Live frames are normally written
// by the hub's workers (worker.go); the pump takes over the write side for
// what may block or take long: a client that has fallen behind, a replay,
// a close frame. It also pings on a ticker. Gorilla writes its own control
// replies; every frame goes out in a single write call, which the runtime
// never interleaves with another on the same connection.
func (c *client) writePump() {
	defer c.h.wg.Done()
	ticker := time.NewTicker(c.h.opt.PingInterval)
	defer ticker.Stop()
	defer c.finish()
	for {
		// A kick goes ahead of whatever is queued: that is the point of it.
		select {
		case <-c.closeNow:
			c.closeKicked()
			return
		default:
		}
		select {
		case <-c.closeNow:
			c.closeKicked()
			return
		case <-c.readDone:
			c.acquire()
			c.drain()
			return
		case m := <-c.handoff:
			if !c.takeOver(m, ticker) {
				return
			}
		case <-ticker.C:
			if !c.pingOwned(ticker) {
				return
			}
		}
	}
}

// pingOwned pings with the write side owned, as any write must be: a
// worker may have written part of a batch and be about to hand the rest
// over, and a ping must not land inside a frame. A pending handoff is
// finished first. false ends the pump.
func (c *client) pingOwned(ticker *time.Ticker) bool {
	c.acquire()
	select {
	case m := <-c.handoff:
		if !c.takeOver(m, ticker) {
			return false
		}
		c.acquire()
	default:
	}
	err := c.ping()
	c.giveBack()
	return err == nil
}

// takeOver writes what a worker handed over and then everything queued,
// waiting on the peer as long as writeWait allows, and gives the write side
// back to the workers once the queue is empty; false ends the pump.
func (c *client) takeOver(m handoff, ticker *time.Ticker) bool {
	if !c.finishHandoff(m, ticker) {
		return false
	}
	for {
		select {
		case <-c.closeNow:
			return true // the pump sends the close frame next
		default:
		}
		select {
		case m := <-c.queue:
			if !c.write(m, ticker) {
				return false
			}
		default:
			c.giveBack()
			return true
		}
	}
}

// finishHandoff writes the end of a batch a worker could not write whole
// and acts on the item it stopped at. ticker is nil while draining.
func (c *client) finishHandoff(m handoff, ticker *time.Ticker) bool {
	if m.failed {
		return false
	}
	if len(m.rest) > 0 {
		// It may start mid-frame: it is finished even ahead of a kick, or
		// the close frame would land inside it.
		nc := c.conn.NetConn()
		_ = nc.SetWriteDeadline(time.Now().Add(writeWait))
		_, err := m.rest.WriteTo(nc)
		c.queued.Add(-m.bytes)
		if err != nil {
			c.log.Debug("write", "err", err)
			return false
		}
		c.lastID = m.last
	}
	if m.item != nil {
		return c.write(*m.item, ticker)
	}
	return true
}

// closeKicked sends the close frame of a kick once no worker is writing.
func (c *client) closeKicked() {
	c.acquire()
	select {
	case m := <-c.handoff:
		if m.failed || (len(m.rest) > 0 && !c.finishHandoff(handoff{rest: m.rest, bytes: m.bytes, last: m.last}, nil)) {
			return
		}
	default:
	}
	c.writeClose(c.kickCode())
}

// drain sends what the read pump queued before it ended (an error message
// and the close frame after it), without waiting for more. The pump owns
// the write side.
func (c *client) drain() {
	select {
	case m := <-c.handoff:
		if !c.finishHandoff(m, nil) {
			return
		}
	default:
	}
	for {
		select {
		case m := <-c.queue:
			if m.ctl != nil && m.ctl.replay != nil {
				continue
			}
			if !c.write(m, nil) {
				return
			}
		default:
			return
		}
	}
}

// write sends m and whatever data frames are queued behind it, in one
// system call; false ends the pump. A close or replay item ends the batch
// and is acted on once the frames before it are out.
func (c *client) write(m outgoing, ticker *time.Ticker) bool {
	c.batch = c.batch[:0]
	size, last := int64(0), c.lastID
	for {
		switch {
		case m.ctl != nil:
			if !c.flush(size, last) {
				return false
			}
			if m.ctl.closeCode != 0 {
				c.writeClose(m.ctl.closeCode, m.ctl.closeReason)
				return false
			}
			if ticker == nil {
				return true // draining: no replay for a session that is over
			}
			return c.replayAndJoin(*m.ctl.replay, ticker)
		case m.id != 0 && m.id <= last:
			// already sent by the replay
			c.queued.Add(-int64(len(m.frame)))
		default:
			c.batch = append(c.batch, m.frame)
			size += int64(len(m.frame))
			if m.id != 0 {
				last = m.id
			}
		}
		if len(c.batch) >= maxBatchFrames || size >= maxBatchBytes {
			return c.flush(size, last)
		}
		select {
		case m = <-c.queue:
			continue
		default:
		}
		return c.flush(size, last)
	}
}

// flush writes the batched frames, size bytes; last is the newest stored
// event id among them. A kick that came meanwhile wins: the batch is
// dropped, so lastID still names the last event the client was really sent.
func (c *client) flush(size, last int64) bool {
	n := len(c.batch)
	if n == 0 {
		return true
	}
	defer c.queued.Add(-size)
	select {
	case <-c.closeNow:
		clear(c.batch)
		c.batch = c.batch[:0]
		return true // the pump sends the close frame next
	default:
	}
	nc := c.conn.NetConn()
	_ = nc.SetWriteDeadline(time.Now().Add(writeWait))
	bufs := c.batch // WriteTo consumes its receiver
	_, err := bufs.WriteTo(nc)
	clear(c.batch) // let the frames go: they may be large
	c.batch = c.batch[:0]
	if err != nil {
		c.log.Debug("write", "err", err)
		return false
	}
	wsMessagesSent.Add(float64(n))
	c.lastID = last
	return true
}

func (c *client) ping() error {
	return c.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeWait))
}

// kickCode returns the close code and reason set by kickLocked. The slow
// consumer reason names where to resume, which only the write pump knows.
func (c *client) kickCode() (int, string) {
	c.h.mu.Lock()
	code, reason, why := c.closeCode, c.closeReason, c.slowWhy
	c.h.mu.Unlock()
	if code == CloseSlowConsumer {
		reason = fmt.Sprintf("slow consumer: %s; resume with since=%d", why, c.lastID)
	}
	return code, reason
}

func (c *client) writeClose(code int, reason string) {
	msg := websocket.FormatCloseMessage(code, reason)
	if err := c.conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(writeWait)); err != nil {
		c.log.Debug("write close", "err", err)
	}
}

// finish gives the peer a moment to answer the close frame, then drops the
// connection, which also ends the read pump. A peer that has not answered
// by then reads nothing (a stalled client, one whose write timed out): its
// connection is reset, so that the kernel drops what it holds for it
// rather than keep trying to deliver it.
func (c *client) finish() {
	t := time.NewTimer(closeGrace)
	defer t.Stop()
	select {
	case <-c.readDone:
	case <-t.C:
		discardUnsent(c.conn.NetConn())
	}
	_ = c.conn.Close()
}

// discardUnsent makes closing nc reset the TCP connection (SO_LINGER 0).
func discardUnsent(nc net.Conn) {
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
}
