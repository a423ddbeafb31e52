package hub

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/gorilla/websocket"

	"github.com/backupd/backupd/internal/domain"
)

// readPump reads the client's messages until the connection ends. It runs
// in the ServeHTTP goroutine.
func (c *client) readPump() {
	defer close(c.readDone)
	defer c.h.unregister(c)
	pongWait := 2 * c.h.opt.PingInterval
	c.conn.SetReadLimit(readLimit)
	_ = c.conn.SetReadDeadline(time.Now().Add(pongWait))
	c.conn.SetPongHandler(func(string) error {
		return c.conn.SetReadDeadline(time.Now().Add(pongWait))
	})
	first := true
	for {
		_, b, err := c.conn.ReadMessage()
		if err != nil {
			if websocket.IsUnexpectedCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway, websocket.CloseNoStatusReceived) {
				c.log.Debug("read", "err", err)
			}
			return
		}
		_ = c.conn.SetReadDeadline(time.Now().Add(pongWait))
		if c.isClosing() {
			continue // keep reading until the peer answers our close frame
		}
		m, err := decodeMessage(b)
		if err != nil {
			var de *decodeError
			if !errors.As(err, &de) {
				de = &decodeError{codeBadMessage, err.Error(), CloseBadMessage}
			}
			c.fail(de)
		} else {
			c.handle(m, first)
		}
		first = false
	}
}

func (c *client) isClosing() bool {
	c.h.mu.Lock()
	defer c.h.mu.Unlock()
	return c.closing
}

// fail sends an error message and, for a fatal error, a close frame after it.
func (c *client) fail(de *decodeError) {
	c.send(errorMessage(de.code, de.message))
	if de.closeCode != 0 {
		c.h.closeAfterQueued(c, de.closeCode, closeReasonText(de.code))
	}
}

// closeReasonText keeps the close reason within the 123 bytes a close frame
// allows; the full text went in the error message before it.
func closeReasonText(code string) string {
	switch code {
	case codeUnsupportedProtocol:
		return "unsupported protocol; this server speaks 1 and 2"
	case codeBadHello:
		return "bad hello"
	}
	return "bad message"
}

func (c *client) send(v any) {
	c.h.enqueue(c, send(c.h.mustPrepare(v), 0))
}

// handle acts on one decoded message. Protocol 1 messages work in either
// protocol; hello only as the first message.
func (c *client) handle(m clientMessage, first bool) {
	switch m.Type {
	case msgHello:
		if !first {
			c.fail(&decodeError{codeBadHello, "hello must be the first message of a session; this one continues in the protocol it started with", 0})
			return
		}
		c.hello(m)
	case msgPing:
		c.send(map[string]string{"eventType": msgPong})
	case msgRegister, msgMessage:
		if !c.fanOut.Allow() {
			c.fail(&decodeError{codeRateLimited, fmt.Sprintf("%s goes to every client, so at most %d a second are taken from one session; this one was dropped", m.Type, fanOutRate), 0})
			return
		}
		c.broadcastFrom(m)
	case msgDisconnect:
		c.h.mu.Lock()
		c.announced = true
		c.h.broadcastP1Locked(socketDisconnect(c.id))
		c.h.mu.Unlock()
		c.h.closeAfterQueued(c, websocket.CloseNormalClosure, "disconnect")
	default:
		c.fail(&decodeError{codeUnknownEventType, fmt.Sprintf("unknown eventType %q; known: register, ping, message, disconnect, and hello as the first message", m.Type), 0})
	}
}

// broadcastFrom sends what a client's register or message asks to every
// client: socket_added to protocol 1 clients, a test message to all.
func (c *client) broadcastFrom(m clientMessage) {
	if m.Type == msgRegister {
		c.h.mu.Lock()
		c.h.broadcastP1Locked(socketAdded(c.id, m.SocketData))
		c.h.mu.Unlock()
		return
	}
	data, _ := json.Marshal(map[string]any{"id": c.id, "text": rawData(m.SocketData)})
	c.h.Broadcast(domain.Event{Type: domain.EventMessage, Data: data})
}

// hello starts protocol 2 (or confirms protocol 1) for this session.
func (c *client) hello(m clientMessage) {
	switch m.Protocol {
	case 1:
		c.send(welcome(1, c.id, c.h.currentHead()))
		return
	case 2:
	default:
		c.fail(&decodeError{codeUnsupportedProtocol, fmt.Sprintf("protocol %d is not supported; send hello with protocol 1 or 2", m.Protocol), CloseUnsupportedProtocol})
		return
	}
	storeHead := c.h.storeHead()
	h := c.h
	h.mu.Lock()
	defer h.mu.Unlock()
	c.sources, c.types = set(m.Sources), set(m.Types)
	// From here the client gets no stored event until its replay has
	// caught up and joined; what was queued before now came as protocol 1.
	c.proto = 2
	head := max(h.head, storeHead)
	since := head
	if m.Since != nil {
		since = *m.Since
	}
	h.enqueueLocked(c, send(h.mustPrepare(welcome(2, c.id, head)), 0))
	h.enqueueLocked(c, outgoing{ctl: &control{replay: &since}})
}

func set(names []string) map[string]bool {
	if len(names) == 0 {
		return nil
	}
	s := make(map[string]bool, len(names))
	for _, n := range names {
		s[n] = true
	}
	return s
}

// currentHead is the newest event id the hub knows of.
func (h *Hub) currentHead() int64 {
	storeHead := h.storeHead()
	h.mu.Lock()
	defer h.mu.Unlock()
	return max(h.head, storeHead)
}

// storeHead asks the store for its newest id when it can tell, so welcome
// names a real head even before the first Publish; 0 otherwise.
func (h *Hub) storeHead() int64 {
	s, ok := h.store.(lastEventIDer)
	if !ok {
		return 0
	}
	id, err := s.LastEventID(h.ctx)
	if err != nil {
		if h.ctx.Err() == nil { // not worth a line per client at shutdown
			h.log.Warn("read the newest event id", "err", err)
		}
		return 0
	}
	return id
}
