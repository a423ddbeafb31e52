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
// with the since in the close reason. A replay never waits for the
// budget: with no stalled writer to close, its page goes over the bound
// until the stalled ones qualify, or until the write deadline drops them.

// replayBudget counts the bytes replays hold, across clients.
type replayBudget struct {
	limit int64
	mu    sync.Mutex
	used  int64
	held  map[*client]*holding
}

// stallAfter is how long a replay's write must have been blocked before
// the budget may close that client to make room.
const stallAfter = 100 * time.Millisecond

// holding is what one replaying client holds.
type holding struct {
	bytes   int64
	writing time.Time // when its current write started; zero if none
	kicked  bool      // closed to free the budget; its bytes are on their way out
}

func newReplayBudget(limit int64) *replayBudget {
	return &replayBudget{limit: limit, held: make(map[*client]*holding)}
}

// take counts n more bytes for c and returns the clients to close so that
// the total falls back within the bound, oldest holders first.
func (b *replayBudget) take(c *client, n int64) []*client {
	b.mu.Lock()
	defer b.mu.Unlock()
	hd := b.held[c]
	if hd == nil {
		hd = &holding{}
		b.held[c] = hd
	}
	hd.bytes += n
	b.used += n
	over := b.used - b.limit
	if over <= 0 {
		return nil
	}
	var cands []*client
	stalled := time.Now().Add(-stallAfter)
	for o, ho := range b.held {
		switch {
		case ho.kicked:
			over -= ho.bytes
		case o != c && !ho.writing.IsZero() && ho.writing.Before(stalled):
			cands = append(cands, o)
		}
	}
	slices.SortFunc(cands, func(x, y *client) int { return b.held[x].writing.Compare(b.held[y].writing) })
	var victims []*client
	for _, o := range cands {
		if over <= 0 {
			break
		}
		ho := b.held[o]
		ho.kicked = true
		over -= ho.bytes
		victims = append(victims, o)
	}
	return victims
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
	}
}

// inUse is the bytes replays hold now.
func (b *replayBudget) inUse() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// holdReplay counts n bytes a replay of c now holds, closing the clients
// the budget chose to make room.
func (h *Hub) holdReplay(c *client, n int64) {
	for _, v := range h.replay.take(c, n) {
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
