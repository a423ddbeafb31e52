package hub

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/gorilla/websocket"
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
func (c *client) replayRange(after, upTo int64, ticker *time.Ticker) (int64, error) {
	last := after
	for {
		page, err := c.h.store.ListEvents(c.h.ctx, last, replayPage)
		if err != nil {
			return last, fmt.Errorf("list events after %d: %w", last, err)
		}
		for _, ev := range page {
			if upTo > 0 && ev.ID > upTo {
				return last, nil
			}
			if ev.ID <= last {
				return last, fmt.Errorf("store returned id %d after %d: not ascending", ev.ID, last)
			}
			last = ev.ID
			if !c.match(ev) {
				continue
			}
			if err := c.writeReplayed(p2Message(ev), ticker); err != nil {
				return last, err
			}
			c.lastID = ev.ID
		}
		if len(page) < replayPage || (upTo > 0 && last >= upTo) {
			if upTo > 0 && last < upTo {
				c.log.Warn("store has fewer events than were published", "last", last, "published", upTo)
			}
			return last, nil
		}
	}
}

// writeReplayed writes one replayed event, keeping up the pings and
// yielding to a kick, since a long replay must not look like a dead peer.
func (c *client) writeReplayed(ev p2Event, ticker *time.Ticker) error {
	select {
	case <-c.closeNow:
		return errClosing
	case <-ticker.C:
		if err := c.ping(); err != nil {
			return &writeError{fmt.Errorf("ping: %w", err)}
		}
	default:
	}
	b, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encode event %d: %w", ev.ID, err)
	}
	_ = c.conn.SetWriteDeadline(time.Now().Add(writeWait))
	if err := c.conn.WriteMessage(websocket.TextMessage, b); err != nil {
		return &writeError{fmt.Errorf("write event %d: %w", ev.ID, err)}
	}
	wsMessagesSent.Inc()
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
