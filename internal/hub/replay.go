package hub

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/gorilla/websocket"

	"github.com/backupd/backupd/internal/domain"
)

// maxCatchUpRounds bounds how often a replay chases a head that keeps
// moving before it joins anyway and leaves the rest to the queue.
const maxCatchUpRounds = 3

// replayAndJoin runs in the write pump. It sends every matching stored
// event after since, then makes the client live without a gap or a
// duplicate at the seam:
//
//  1. replay from the store up to the newest id known at the start of the
//     round (the client is not live, so Publish does not queue for it);
//  2. under the hub lock, if nothing newer was published meanwhile, join
//     with joinHead = the last id replayed; otherwise go round again, or
//     after maxCatchUpRounds join at the published head, so a replay never
//     chases a busy publisher for ever;
//  3. replay the rest up to joinHead (usually nothing); Publish queues only
//     ids above joinHead, and the queue is drained after this returns.
//
// It returns false when the pump should end.
func (c *client) replayAndJoin(since int64, ticker *time.Ticker) bool {
	defer func() { c.replayBuf, c.encBuf, c.replayN = nil, nil, 0 }() // live clients hold no replay buffer
	c.lastID = since
	last := since
	for round := 1; ; round++ {
		var err error
		if last, err = c.replayRange(last, c.h.currentHead(), ticker); err != nil {
			return c.replayFailed(err)
		}
		joinHead, ok := c.h.join(c, last, round >= maxCatchUpRounds)
		if !ok {
			if c.isClosing() {
				return true // the pump picks up the close next
			}
			continue
		}
		if joinHead > last {
			if _, err := c.replayRange(last, joinHead, ticker); err != nil {
				return c.replayFailed(err)
			}
		}
		return true
	}
}

// replayRange sends the stored events with ids in (after, upTo], or all
// after it when upTo is 0 (a store that cannot tell its head, before any
// Publish), and returns the last id it read.
//
// A page is bounded in bytes as well as in events, at about
// replayPageBytes: by the store when it can (byteLister); otherwise the
// first page asks for as many events as would fill it at the largest size
// the hub has seen, each later one as many as the largest event of the
// page before allows, growing at most fourfold a page. The page and its
// encoding count towards the daemon-wide replay budget (budget.go) until
// written.
func (c *client) replayRange(after, upTo int64, ticker *time.Ticker) (int64, error) {
	defer c.h.replay.release(c)
	last := after
	bl, bounded := c.h.store.(byteLister)
	limit := replayPage
	if !bounded {
		limit = pageLimit(c.h.largestEvent.Load())
	}
	for {
		// Reserve what the page may hold before reading it, then set the
		// reservation to what it does hold.
		reserved := 2 * (replayPageBytes + c.h.largestEvent.Load())
		if err := c.h.reserveReplay(c, reserved); err != nil {
			return last, err
		}
		var (
			page []domain.Event
			err  error
		)
		if bounded {
			page, err = bl.ListEventsBytes(c.h.ctx, last, limit, replayPageBytes)
		} else {
			page, err = c.h.store.ListEvents(c.h.ctx, last, limit)
		}
		if err != nil {
			return last, fmt.Errorf("list events after %d: %w", last, err)
		}
		var data, size, largest int64
		for _, ev := range page {
			n := eventBytes(len(ev.Data))
			data, size, largest = data+int64(len(ev.Data)), size+n, max(largest, n)
		}
		c.h.noteEventSize(largest)
		c.h.adjustReplay(c, 2*size-reserved) // the page, and its encoding
		for i := range page {
			ev := &page[i]
			id := ev.ID
			if upTo > 0 && id > upTo {
				return last, c.flushReplayed()
			}
			if id <= last {
				return last, fmt.Errorf("store returned id %d after %d: not ascending", id, last)
			}
			last = id
			if !c.match(*ev) {
				*ev = domain.Event{}
				continue
			}
			if err := c.writeReplayed(ev, ticker); err != nil {
				return last, err
			}
		}
		if err := c.flushReplayed(); err != nil {
			return last, err
		}
		c.h.replay.release(c)
		c.replayWrote = true
		more := len(page) == limit || (bounded && data >= replayPageBytes)
		if !bounded {
			limit = min(pageLimit(largest), 4*limit)
		}
		if !more || (upTo > 0 && last >= upTo) {
			if upTo > 0 && last < upTo {
				c.log.Warn("store has fewer events than were published", "last", last, "published", upTo)
			}
			return last, nil
		}
	}
}

// Replay sizes: how much replayed output is gathered before it is written
// (one system call for many events), about how many bytes of events a
// page read from the store holds, and how many events the first page asks
// for before any size is known.
const (
	replayFlushBytes = 64 << 10
	replayPageBytes  = 256 << 10
	replayFirstPage  = 16
)

// writeReplayed encodes one replayed event into the replay buffer, writing
// the buffer out when it is full; it keeps up the pings and yields to a
// kick, since a long replay must not look like a dead peer. The event's
// data is let go once encoded; a large event is written from its encoding
// as it is, so that a write blocked on the peer holds one copy of it.
func (c *client) writeReplayed(ev *domain.Event, ticker *time.Ticker) error {
	select {
	case <-c.closeNow:
		return errClosing
	case <-ticker.C:
		// It may block on a peer that does not read, as a write does.
		c.h.replay.writing(c, true)
		err := c.ping()
		c.h.replay.writing(c, false)
		if err != nil {
			return &writeError{fmt.Errorf("ping: %w", err)}
		}
	default:
	}
	var err error
	if c.encBuf, err = appendP2Event(c.encBuf[:0], *ev); err != nil {
		return fmt.Errorf("encode event %d: %w", ev.ID, err)
	}
	id := ev.ID
	*ev = domain.Event{}
	c.replayN++
	c.replayLast = id
	if len(c.encBuf) >= replayFlushBytes {
		c.replayHdr = appendTextHeader(c.replayHdr[:0], len(c.encBuf))
		c.replayBig = c.encBuf
		return c.flushReplayed()
	}
	c.replayBuf = appendTextFrame(c.replayBuf, c.encBuf)
	if len(c.replayBuf) >= replayFlushBytes {
		return c.flushReplayed()
	}
	return nil
}

// flushReplayed writes the buffered replayed events; only then do they
// count as sent (lastID, which a slow-consumer close names for resuming).
func (c *client) flushReplayed() error {
	if c.replayN == 0 {
		return nil
	}
	nc := c.conn.NetConn()
	_ = nc.SetWriteDeadline(time.Now().Add(writeWait))
	// A kick after this point aborts the write (abortWrite); one before it
	// is seen here.
	select {
	case <-c.closeNow:
		return errClosing
	default:
	}
	bufs := net.Buffers{c.replayBuf}
	if c.replayBig != nil {
		bufs = append(bufs, c.replayHdr, c.replayBig)
	}
	c.h.replay.writing(c, true)
	written, err := bufs.WriteTo(nc)
	c.h.replay.writing(c, false)
	n := c.replayN
	c.replayBuf, c.replayBig, c.replayN = c.replayBuf[:0], nil, 0
	if cap(c.encBuf) > 2*replayFlushBytes {
		c.encBuf = nil // after a large event: do not keep its size
	}
	if err != nil {
		if written == 0 && c.isClosing() {
			return errClosing // between frames: the close frame can still go
		}
		return &writeError{fmt.Errorf("write events up to %d: %w", c.replayLast, err)}
	}
	wsMessagesSent.Add(float64(n))
	c.lastID = c.replayLast
	return nil
}

// replayFailed ends a session whose replay could not be completed: a store
// error is told to the client (1011, retry later); a kick or a broken
// connection just ends it.
func (c *client) replayFailed(err error) bool {
	if errors.Is(err, errClosing) || c.h.ctx.Err() != nil {
		return true // the pump sends the close frame it was kicked with
	}
	var we *writeError
	if errors.As(err, &we) {
		c.log.Debug("replay", "err", err)
		return false
	}
	c.log.Error("replay", "err", err)
	b, _ := json.Marshal(errorMessage(codeReplayFailed, "could not read stored events; reconnect later with the same since"))
	_ = c.conn.SetWriteDeadline(time.Now().Add(writeWait))
	_ = c.conn.WriteMessage(websocket.TextMessage, b)
	c.writeClose(websocket.CloseInternalServerErr, "replay failed")
	return false
}

// writeError marks a failure to write to the peer, after which nothing more
// can be told to it.
type writeError struct{ err error }

func (e *writeError) Error() string { return e.err.Error() }
func (e *writeError) Unwrap() error { return e.err }
