package webhook

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/backupd/backupd/internal/catalog"
)

// idleCheck bounds how long the sender sleeps with nothing due, so that it
// notices deliveries queued by another process.
const idleCheck = 5 * time.Second

// send delivers what is due until the dispatcher stops.
func (d *Dispatcher) send() {
	for d.ctx.Err() == nil {
		targets := d.live()
		byID := make(map[int64]*target, len(targets))
		ids := make([]int64, 0, len(targets))
		for _, t := range targets {
			byID[t.id] = t
			ids = append(ids, t.id)
		}
		due, err := d.store.DueDeliveries(d.ctx, ids, time.Now(), 4*d.opts.Parallel)
		if err != nil {
			if d.ctx.Err() == nil {
				d.log.Error("list due deliveries", "err", err)
			}
			sleep(d.ctx, time.Second)
			continue
		}
		if len(due) > 0 {
			d.sendAll(due, byID)
			continue
		}
		d.idle(ids)
	}
}

// idle waits until the next delivery is due, a new one is queued, or
// idleCheck passes.
func (d *Dispatcher) idle(ids []int64) {
	wait := idleCheck
	if next, ok, err := d.store.NextAttemptAt(d.ctx, ids); err == nil && ok {
		wait = min(max(time.Until(next), time.Millisecond), idleCheck)
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-d.ctx.Done():
	case <-d.wake:
	case <-t.C:
	}
}

// sendAll makes one attempt at each delivery, Parallel at a time, so that
// one slow receiver does not hold up the others.
func (d *Dispatcher) sendAll(due []catalog.Delivery, byID map[int64]*target) {
	sem := make(chan struct{}, d.opts.Parallel)
	var wg sync.WaitGroup
	for _, del := range due {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			a, ok := d.attempt(del, byID[del.EndpointID])
			if !ok {
				return // stopped mid-attempt: it is made again after restart
			}
			if err := d.store.RecordAttempt(context.WithoutCancel(d.ctx), del.ID, a); err != nil {
				d.log.Error("record delivery attempt", "delivery", del.ID, "err", err)
			}
			if a.DisableEndpoint != "" {
				d.disable(del.EndpointID)
				d.log.Warn("endpoint disabled", "url", del.URL, "reason", a.DisableEndpoint)
			}
		}()
	}
	wg.Wait()
}

// attempt posts del once and decides what comes next. It reports false
// when the dispatcher stopped during the attempt.
func (d *Dispatcher) attempt(del catalog.Delivery, t *target) (catalog.Attempt, bool) {
	ctx, cancel := context.WithTimeout(d.ctx, d.opts.Timeout)
	defer cancel()
	start := time.Now()
	a := catalog.Attempt{At: start}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, bytes.NewReader(del.Payload))
	if err != nil {
		a.Error = fmt.Sprintf("build request: %v", err)
		return d.retry(a, del, 0), true
	}
	SignHeaders(req.Header, t.key, del.MsgID, start, del.Payload)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "backupd-webhooks")
	outboundAttemptsTotal.Inc()
	resp, err := d.opts.Client.Do(req)
	a.Duration = time.Since(start)
	if err != nil {
		if d.ctx.Err() != nil {
			return a, false
		}
		outboundFailuresTotal.Inc()
		a.Error = err.Error()
		return d.retry(a, del, 0), true
	}
	// Drain a little so the connection can be reused; the body is not kept.
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	a.StatusCode = resp.StatusCode
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		a.Status = catalog.DeliveryDelivered
		return a, true
	case resp.StatusCode == http.StatusGone:
		outboundFailuresTotal.Inc()
		a.Status, a.Error = catalog.DeliveryCanceled, "receiver answered 410 Gone"
		a.DisableEndpoint = "receiver answered 410 Gone at " + start.UTC().Format(time.RFC3339)
		return a, true
	}
	outboundFailuresTotal.Inc()
	a.Error = "receiver answered " + resp.Status
	return d.retry(a, del, retryAfter(resp.Header.Get("Retry-After"), start)), true
}

// retry schedules the next attempt, after the receiver's Retry-After when
// it gave one, else after an exponential backoff with jitter; or gives up
// when the attempts or the age are spent.
func (d *Dispatcher) retry(a catalog.Attempt, del catalog.Delivery, after time.Duration) catalog.Attempt {
	n := del.Attempts + 1 // attempts made, this one included
	delay := after
	if delay <= 0 {
		delay = backoff(d.opts.BaseDelay, d.opts.MaxDelay, n)
	}
	a.NextAttemptAt = a.At.Add(delay)
	switch {
	case n >= d.opts.MaxAttempts:
		a.Status, a.Error = catalog.DeliveryFailed, a.Error+"; gave up after "+strconv.Itoa(n)+" attempts"
	case a.NextAttemptAt.After(del.CreatedAt.Add(d.opts.MaxAge)):
		a.Status, a.Error = catalog.DeliveryFailed, a.Error+"; gave up: the next attempt would be more than "+d.opts.MaxAge.String()+" after the event"
	default:
		a.Status = catalog.DeliveryPending
	}
	return a
}

// backoff is base*2^(n-1), capped at max, with "equal jitter": between
// half and all of it, so that receivers that came back are not hit by every
// sender at once.
func backoff(base, max time.Duration, n int) time.Duration {
	d := base
	for i := 1; i < n && d < max; i++ {
		d *= 2
	}
	if d > max || d <= 0 {
		d = max
	}
	return d/2 + rand.N(d/2+1)
}

// retryAfter reads a Retry-After header: seconds or an HTTP date. It
// returns 0 when there is none or it cannot be read.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return time.Millisecond // "now", but not a hot loop
		}
		return time.Duration(min(secs, int64(365*24*3600))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
