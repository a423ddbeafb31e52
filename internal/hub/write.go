package hub

import (
	"errors"
	"fmt"
	"time"

	"github.com/gorilla/websocket"
)

// errClosing ends a replay because the client is being closed.
var errClosing = errors.New("client closing")

// writePump is the only writer of c.conn (besides gorilla's own control
// replies). It sends queued messages, pings on a ticker, replays for
// protocol 2, and sends the close frame.
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

// write sends one queued item; false ends the pump.
func (c *client) write(m outgoing, ticker *time.Ticker) bool {
	switch {
	case m.closeCode != 0:
		c.writeClose(m.closeCode, m.closeReason)
		return false
	case m.replay != nil:
		return c.replayAndJoin(*m.replay, ticker)
	case m.id != 0 && m.id <= c.lastID:
		return true // already sent by the replay
	}
	_ = c.conn.SetWriteDeadline(time.Now().Add(writeWait))
	if err := c.conn.WritePreparedMessage(m.pm); err != nil {
		c.log.Debug("write", "err", err)
		return false
	}
	wsMessagesSent.Inc()
	if m.id != 0 {
		c.lastID = m.id
	}
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
