package hub

import (
	"errors"
	"fmt"
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

// writePump is the only writer of data frames to c.conn; gorilla writes its
// own control replies, and ping and close frames go through it too. Each
// frame goes out in a single write call, which the runtime never
// interleaves with another on the same connection. It sends queued
// messages, pings on a ticker, replays for protocol 2, and sends the close
// frame.
func (c *client) writePump() {
	defer c.h.wg.Done()
	ticker := time.NewTicker(c.h.opt.PingInterval)
	defer ticker.Stop()
	defer c.finish()
	for {
		// A kick goes ahead of whatever is queued: that is the point of it.
		select {
		case <-c.closeNow:
			c.writeClose(c.kickCode())
			return
		default:
		}
		select {
		case <-c.closeNow:
			c.writeClose(c.kickCode())
			return
		case <-c.readDone:
			c.drain()
			return
		case m := <-c.queue:
			if !c.write(m, ticker) {
				return
			}
		case <-ticker.C:
			if err := c.ping(); err != nil {
				return
			}
		}
	}
}

// drain sends what the read pump queued before it ended (an error message
// and the close frame after it), without waiting for more.
func (c *client) drain() {
	for {
		select {
		case m := <-c.queue:
			if m.replay != nil {
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
	size, last := 0, c.lastID
	for {
		switch {
		case m.closeCode != 0 || m.replay != nil:
			if !c.flush(last) {
				return false
			}
			if m.closeCode != 0 {
				c.writeClose(m.closeCode, m.closeReason)
				return false
			}
			if ticker == nil {
				return true // draining: no replay for a session that is over
			}
			return c.replayAndJoin(*m.replay, ticker)
		case m.id != 0 && m.id <= last:
			// already sent by the replay
		default:
			c.batch = append(c.batch, m.frame)
			size += len(m.frame)
			if m.id != 0 {
				last = m.id
			}
		}
		if len(c.batch) >= maxBatchFrames || size >= maxBatchBytes {
			return c.flush(last)
		}
		select {
		case m = <-c.queue:
			continue
		default:
		}
		return c.flush(last)
	}
}

// flush writes the batched frames; last is the newest stored event id among
// them. A kick that came meanwhile wins: the batch is dropped, so lastID
// still names the last event the client was really sent.
func (c *client) flush(last int64) bool {
	n := len(c.batch)
	if n == 0 {
		return true
	}
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
	code, reason := c.closeCode, c.closeReason
	c.h.mu.Unlock()
	if code == CloseSlowConsumer {
		reason = fmt.Sprintf("slow consumer: more than %d messages queued; resume with since=%d", cap(c.queue), c.lastID)
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
// connection, which also ends the read pump.
func (c *client) finish() {
	t := time.NewTimer(closeGrace)
	defer t.Stop()
	select {
	case <-c.readDone:
	case <-t.C:
	}
	_ = c.conn.Close()
}
