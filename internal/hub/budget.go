package hub

import (
	"slices"
	"sync"
	"time"
)

// Memory held for clients comes in two kinds, bounded differently.
//
// Live frames are shared: a broadcast is encoded once and every client's
// queue refers to the same bytes. Each client may hold QueueBytes of them
// (enqueueLocked), and a client that holds any is either being written to
// or blocked in a write for at most writeWait, after which it is dropped.
// Counting shared frames per client towards a daemon-wide total would
// count one event a thousand times for a thousand clients that are all
// keeping up, so they are not.
//
// A replay's bytes are the client's own: the page of events read from the
// store and their encoding, one copy per replaying client. A thousand
// clients that say hello with since=0 and never read each hold what they
// were blocked writing, and that is what grows with the number of
// clients. These bytes are bounded daemon-wide by Options.TotalBytes:
// a replay that takes bytes past the bound makes the hub close, as slow
// consumers, the replaying clients whose writes have been blocked the
// longest, at least stallAfter: those are the ones whose peers do not
// read. A client that reads finishes its writes in a moment on a fast
// network and is not chosen; on a slow one it may be, and it resumes
// with the since in the close reason. With no stalled writer to close
// yet, a replay waits in line, holding nothing, until bytes are given back
// or a writer qualifies. Alone, a replay takes what its page needs,
// whatever the bound.

// replayBudget counts the bytes replays hold, across clients.
type replayBudget struct {
	limit int64
	mu    sync.Mutex
	used  int64
	held  map[*client]*holding
	// waiters are the replays waiting for room, first come first served:
	// only the first tries again, when bytes are given back or when a
	// blocked writer will have qualified, so that a crowd of waiting
	// replays does not wake at every change.
	waiters []*waiter
}

// waiter is a replay waiting for room; wake is signalled when it should
// try again. A replay that has written a page to its peer has shown that
// the peer reads: it waits ahead of those that have not, which is what
// keeps a crowd of new connections that never read from holding up, page
// after page, a client that does.
type waiter struct {
	c      *client
	proven bool
	wake   chan struct{}
}

// stallAfter is how long a replay's write must have been blocked before
// the budget may close that client to make room. A peer that reads takes
// a page of events in far less, even on a loaded machine; replays waiting
// for room hold nothing meanwhile, so a longer wait costs time, not memory.
const stallAfter = 200 * time.Millisecond

// holding is what one replaying client holds.
type holding struct {
	bytes   int64
	writing time.Time // when its current write started; zero if none
	kicked  bool      // closed to free the budget; its bytes are on their way out
}

func newReplayBudget(limit int64) *replayBudget {
	return &replayBudget{limit: limit, held: make(map[*client]*holding)}
}

// take counts n more bytes for c. If that passes the bound, it chooses
// clients to close, stalled writers with the oldest writes first, so that
// the total falls back within it. With wait set, nothing is taken (ok is
// false) when the stalled writers are not enough, or when c is not the
// first of the waiters; next is then when the oldest writer that does not
// qualify yet will, if c is first and there is one, else 0.
func (b *replayBudget) take(c *client, n int64, wait, proven bool) (victims []*client, next time.Duration, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if wait && len(b.waiters) > 0 && b.waiters[0].c != c && (!proven || b.waiters[0].proven) {
		return nil, 0, false
	}
	hd := b.held[c]
	if hd == nil {
		hd = &holding{}
		b.held[c] = hd
	}
	over := b.used + n - b.limit
	if over <= 0 || b.used == hd.bytes { // within the bound, or alone
		hd.bytes += n
		b.used += n
		return nil, 0, true
	}
	var cands []*client
	stalled := time.Now().Add(-stallAfter)
	for o, ho := range b.held {
		switch {
		case ho.kicked:
			over -= ho.bytes
		case o == c || ho.writing.IsZero():
		case ho.writing.Before(stalled):
			cands = append(cands, o)
		case next == 0 || ho.writing.Sub(stalled) < next:
			next = ho.writing.Sub(stalled)
		}
	}
	slices.SortFunc(cands, func(x, y *client) int { return b.held[x].writing.Compare(b.held[y].writing) })
	for _, o := range cands {
		if over <= 0 {
			break
		}
		over -= b.held[o].bytes
		victims = append(victims, o)
	}
	for _, o := range victims {
		b.held[o].kicked = true
	}
	if wait && over > 0 {
		return victims, next, false
	}
	hd.bytes += n
	b.used += n
	return victims, 0, true
}

// enqueue adds c to the waiters: behind the proven ones if it is proven,
// else at the end.
func (b *replayBudget) enqueue(c *client, proven bool) *waiter {
	b.mu.Lock()
	defer b.mu.Unlock()
	w := &waiter{c: c, proven: proven, wake: make(chan struct{}, 1)}
	i := len(b.waiters)
	if proven {
		i = 0
		for i < len(b.waiters) && b.waiters[i].proven {
			i++
		}
	}
	b.waiters = slices.Insert(b.waiters, i, w)
	return w
}

// dequeue removes w from the waiters and wakes the next one.
func (b *replayBudget) dequeue(w *waiter) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.waiters = slices.DeleteFunc(b.waiters, func(o *waiter) bool { return o == w })
	b.wakeFirstLocked()
}

// wakeFirstLocked tells the first waiter to try again.
func (b *replayBudget) wakeFirstLocked() {
	if len(b.waiters) > 0 {
		select {
		case b.waiters[0].wake <- struct{}{}:
		default:
		}
	}
}

// giveBack returns n of the bytes c holds.
func (b *replayBudget) giveBack(c *client, n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if hd := b.held[c]; hd != nil {
		n = min(n, hd.bytes)
		hd.bytes -= n
		b.used -= n
		b.wakeFirstLocked()
	}
}

// writing marks the start (on) or the end of a write of c's replay.
func (b *replayBudget) writing(c *client, on bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if hd := b.held[c]; hd != nil {
		hd.writing = time.Time{}
		if on {
			hd.writing = time.Now()
		}
	}
}

// release gives back everything c holds.
func (b *replayBudget) release(c *client) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if hd := b.held[c]; hd != nil {
		b.used -= hd.bytes
		delete(b.held, c)
		b.wakeFirstLocked()
	}
}

// blockedFor is how long c's current replay write has been blocked, 0 if
// it is not writing.
func (b *replayBudget) blockedFor(c *client) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	if hd := b.held[c]; hd != nil && !hd.writing.IsZero() {
		return time.Since(hd.writing)
	}
	return 0
}

// inUse is the bytes replays hold now.
func (b *replayBudget) inUse() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// reserveReplay takes n bytes of the budget for a page c is about to read.
// While the budget is full and no stalled writer can be closed yet, it
// waits in line (see waiter), holding nothing, until bytes are given back
// or a writer qualifies; a kick or the hub closing ends the wait. Every holder either
// finishes its page and gives its bytes back or is a writer blocked on its
// peer, which qualifies after stallAfter, so the wait ends.
func (h *Hub) reserveReplay(c *client, n int64) error {
	proven := c.replayWrote
	victims, _, ok := h.replay.take(c, n, true, proven)
	h.closeForBudget(victims)
	if ok {
		return nil
	}
	w := h.replay.enqueue(c, proven)
	defer h.replay.dequeue(w)
	for {
		victims, next, ok := h.replay.take(c, n, true, proven)
		h.closeForBudget(victims)
		if ok {
			return nil
		}
		if err := w.wait(h, next); err != nil {
			return err
		}
	}
}

// wait waits until w should try again: it is woken, or next has passed
// (0: no timer), or its client is kicked or the hub closes.
func (w *waiter) wait(h *Hub, next time.Duration) error {
	var retry <-chan time.Time
	if next > 0 {
		t := time.NewTimer(next)
		defer t.Stop()
		retry = t.C
	}
	select {
	case <-w.wake:
	case <-retry:
	case <-w.c.closeNow:
		return errClosing
	case <-h.ctx.Done():
		return errClosing
	}
	return nil
}

// adjustReplay corrects c's reservation by delta once the page is read.
// More is taken without waiting: the page is already in memory.
func (h *Hub) adjustReplay(c *client, delta int64) {
	if delta <= 0 {
		h.replay.giveBack(c, -delta)
		return
	}
	victims, _, _ := h.replay.take(c, delta, false, false)
	h.closeForBudget(victims)
}

// closeForBudget closes, as slow consumers, the clients the budget chose.
func (h *Hub) closeForBudget(victims []*client) {
	for _, v := range victims {
		h.mu.Lock()
		h.kickSlowLocked(v, "server replay memory limit reached")
		h.mu.Unlock()
		v.abortWrite()
	}
}

// abortWrite makes a write that is blocked on the peer fail now, so that a
// kicked client lets go of what it was writing. The pump sets its own
// deadline before each write and then looks for a kick, so a deadline set
// here is never overwritten by one meant to let it wait.
func (c *client) abortWrite() {
	_ = c.conn.NetConn().SetWriteDeadline(time.Now())
}

// pageLimit is how many events the next replay page may ask for, so that a
// page holds about replayPageBytes: largest is the biggest event size seen.
func pageLimit(largest int64) int {
	if largest <= 0 {
		return replayFirstPage
	}
	return int(min(max(replayPageBytes/largest, 1), replayPage))
}

// eventBytes is about what an event read from the store takes in memory.
func eventBytes(n int) int64 { return int64(n) + 128 }
