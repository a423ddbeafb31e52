package webhook

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/backupd/backupd/internal/catalog"
	"github.com/backupd/backupd/internal/config"
	"github.com/backupd/backupd/internal/domain"
)

// DefaultEvents are the event types an endpoint gets when its config lists
// none: the end of a backup, whichever way it ended.
var DefaultEvents = []string{domain.EventBackupSucceeded, domain.EventBackupFailed, domain.EventBackupCanceled}

// AllEvents, as an endpoint's event type, subscribes it to every stored event.
const AllEvents = domain.AllStoredEvents

// Store is the catalog as the Dispatcher uses it.
type Store interface {
	Endpoints(ctx context.Context, urls []string) (map[string]catalog.Endpoint, error)
	EnableEndpoint(ctx context.Context, id int64) (catalog.Endpoint, error)
	DeliveryCursor(ctx context.Context) (int64, error)
	Watch(ctx context.Context, after int64, poll time.Duration, emit func(domain.Event)) error
	QueueDeliveries(ctx context.Context, cursor int64, ds []catalog.NewDelivery) error
	DueDeliveries(ctx context.Context, endpointIDs []int64, now time.Time, limit int) ([]catalog.Delivery, error)
	NextAttemptAt(ctx context.Context, endpointIDs []int64) (time.Time, bool, error)
	RecordAttempt(ctx context.Context, id int64, a catalog.Attempt) error
}

// Options tune the Dispatcher; zero values take the defaults in brackets.
type Options struct {
	BaseDelay   time.Duration // first retry delay, doubled each time [5s]
	MaxDelay    time.Duration // cap on one backoff delay [1h]
	MaxAttempts int           // attempts before giving up [12]
	MaxAge      time.Duration // no attempt later than this after queuing [24h]
	Timeout     time.Duration // per attempt [10s]
	Parallel    int           // attempts in flight at once [4]
	Poll        time.Duration // how often to look for other processes' events [catalog.DefaultPoll]
	Client      *http.Client  // [one that does not follow redirects]
	Logger      *slog.Logger
}

func (o *Options) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.BaseDelay, 5*time.Second)
	def(&o.MaxDelay, time.Hour)
	def(&o.MaxAge, 24*time.Hour)
	def(&o.Timeout, 10*time.Second)
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 12
	}
	if o.Parallel <= 0 {
		o.Parallel = 4
	}
	if o.Client == nil {
		// A redirect is answered like any other non-2xx: retried later. A
		// signed body is not re-sent to wherever a receiver points.
		o.Client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// target is one configured endpoint.
type target struct {
	id     int64
	url    string
	key    []byte
	events map[string]bool
}

func (t *target) wants(typ string) bool { return t.events[typ] || t.events[AllEvents] }

// Dispatcher sends outbound webhooks. One goroutine tails the events table
// from a cursor kept in the catalog and queues a delivery per (endpoint,
// event) in the transaction that moves the cursor; another sends what is
// due and records every attempt. Both survive a restart: the cursor and the
// queue are in the catalog.
type Dispatcher struct {
	store Store
	opts  Options
	log   *slog.Logger

	mu       sync.Mutex
	targets  []*target
	disabled map[int64]bool
	wake     chan struct{}

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// NewDispatcher checks the endpoints' config and returns a Dispatcher.
func NewDispatcher(store Store, endpoints []config.Outbound, opts Options) (*Dispatcher, error) {
	opts.defaults()
	d := &Dispatcher{store: store, opts: opts, log: opts.Logger.With("component", "webhook-out"),
		disabled: map[int64]bool{}, wake: make(chan struct{}, 1)}
	targets, err := buildTargets(endpoints)
	if err != nil {
		return nil, err
	}
	d.targets = targets
	return d, nil
}

// buildTargets checks the endpoints' config and makes their targets.
func buildTargets(endpoints []config.Outbound) ([]*target, error) {
	var out []*target
	seen := map[string]bool{}
	for i, e := range endpoints {
		key, err := ParseSecret(e.Secret)
		if err != nil {
			return nil, fmt.Errorf("webhooks.outbound[%d].secret: %w", i, err)
		}
		if seen[e.URL] {
			return nil, fmt.Errorf("webhooks.outbound[%d]: %s is listed twice; list its events once", i, e.URL)
		}
		seen[e.URL] = true
		t := &target{url: e.URL, key: key, events: map[string]bool{}}
		types := e.Events
		if len(types) == 0 {
			types = DefaultEvents
		}
		for _, typ := range types {
			if !domain.IsStoredEventType(typ) {
				return nil, fmt.Errorf("webhooks.outbound[%d].events: %q is not an event type (backup.succeeded, backup.failed, report.received, * ...)", i, typ)
			}
			t.events[typ] = true
		}
		out = append(out, t)
	}
	return out, nil
}

// SetEndpoints makes endpoints the ones events are sent to, for a config
// reload: they are registered in the catalog (an endpoint disabled before
// stays disabled), and events from the next one on go to them. Deliveries
// already queued for an endpoint still configured are still sent; those
// of an endpoint no longer configured stay in the catalog, unsent.
func (d *Dispatcher) SetEndpoints(ctx context.Context, endpoints []config.Outbound) error {
	targets, err := buildTargets(endpoints)
	if err != nil {
		return err
	}
	disabled, err := d.register(ctx, targets)
	if err != nil {
		return err
	}
	d.mu.Lock()
	d.targets, d.disabled = targets, disabled
	d.mu.Unlock()
	d.poke()
	return nil
}

// register records targets in the catalog, setting their ids, and
// returns which of them are disabled.
func (d *Dispatcher) register(ctx context.Context, targets []*target) (map[int64]bool, error) {
	urls := make([]string, len(targets))
	for i, t := range targets {
		urls[i] = t.url
	}
	rows, err := d.store.Endpoints(ctx, urls)
	if err != nil {
		return nil, fmt.Errorf("register outbound endpoints: %w", err)
	}
	disabled := map[int64]bool{}
	for _, t := range targets {
		t.id = rows[t.url].ID
		if rows[t.url].DisabledAt != nil {
			disabled[t.id] = true
			d.log.Warn("endpoint is disabled; it answered 410 Gone", "url", t.url, "reason", rows[t.url].DisabledReason)
		}
	}
	return disabled, nil
}

// Open registers the endpoints in the catalog (learning which were
// disabled) and starts the goroutines. ctx bounds only this setup.
func (d *Dispatcher) Open(ctx context.Context) error {
	disabled, err := d.register(ctx, d.targets)
	if err != nil {
		return fmt.Errorf("open dispatcher: %w", err)
	}
	d.mu.Lock()
	d.disabled = disabled
	d.mu.Unlock()
	cursor, err := d.store.DeliveryCursor(ctx)
	if err != nil {
		return fmt.Errorf("open dispatcher: %w", err)
	}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	d.wg.Add(2)
	go func() { defer d.wg.Done(); d.tail(cursor) }()
	go func() { defer d.wg.Done(); d.send() }()
	return nil
}

// Close stops both goroutines and waits for them. An attempt in flight is
// abandoned unrecorded and made again after the next Open: receivers see
// each webhook at least once, and drop repeats by webhook-id.
func (d *Dispatcher) Close() error {
	if d.cancel != nil {
		d.cancel()
	}
	d.wg.Wait()
	return nil
}

// allTargets returns the configured targets.
func (d *Dispatcher) allTargets() []*target {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.targets
}

// live returns the targets that are not disabled.
func (d *Dispatcher) live() []*target {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []*target
	for _, t := range d.targets {
		if !d.disabled[t.id] {
			out = append(out, t)
		}
	}
	return out
}

// EndpointStatus is a configured endpoint: its catalog row (id, URL,
// whether and why it is disabled) and the event types it is sent.
type EndpointStatus struct {
	catalog.Endpoint
	Events []string `json:"events"`
}

// Endpoints returns the configured endpoints, in config order, as they
// stand in the catalog.
func (d *Dispatcher) Endpoints(ctx context.Context) ([]EndpointStatus, error) {
	rows, err := d.store.Endpoints(ctx, nil)
	if err != nil {
		return nil, err
	}
	targets := d.allTargets()
	out := make([]EndpointStatus, 0, len(targets))
	for _, t := range targets {
		out = append(out, EndpointStatus{Endpoint: rows[t.url], Events: slices.Sorted(maps.Keys(t.events))})
	}
	return out, nil
}

// Enable sends to a configured endpoint again after a 410 Gone disabled
// it: events from now on are delivered; those it missed are not. ENOTFOUND
// if no configured endpoint has that id.
func (d *Dispatcher) Enable(ctx context.Context, id int64) (EndpointStatus, error) {
	var t *target
	for _, c := range d.allTargets() {
		if c.id == id {
			t = c
		}
	}
	if t == nil || id == 0 {
		return EndpointStatus{}, domain.Errorf(domain.ENOTFOUND, "no configured outbound endpoint has id %d (backupctl endpoints lists them)", id)
	}
	e, err := d.store.EnableEndpoint(ctx, id)
	if err != nil {
		return EndpointStatus{}, err
	}
	d.mu.Lock()
	wasDisabled := d.disabled[id]
	delete(d.disabled, id)
	d.mu.Unlock()
	if wasDisabled {
		d.log.Info("endpoint enabled again", "url", t.url)
	}
	return EndpointStatus{Endpoint: e, Events: slices.Sorted(maps.Keys(t.events))}, nil
}

func (d *Dispatcher) disable(id int64) {
	d.mu.Lock()
	d.disabled[id] = true
	d.mu.Unlock()
}

// cursorEvery is how often the cursor is saved when the events read queue
// nothing: saving it is only to spare a re-read after a restart, and a
// write per event would compete with the intake for the catalog's writer.
const cursorEvery = 10 * time.Second

// tail reads events from cursor on and queues their deliveries.
func (d *Dispatcher) tail(cursor int64) {
	events := make(chan domain.Event, 1024)
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		d.watch(cursor, events)
	}()
	saved, savedAt := cursor, time.Now()
	for {
		var batch []domain.Event
		select {
		case <-d.ctx.Done():
			d.saveCursor(saved, cursor)
			return
		case ev := <-events:
			batch = append(batch, ev)
		}
	drain:
		for len(batch) < 1000 {
			select {
			case ev := <-events:
				batch = append(batch, ev)
			default:
				break drain
			}
		}
		ds := d.deliveriesFor(batch)
		cursor = batch[len(batch)-1].ID
		if len(ds) == 0 && time.Since(savedAt) < cursorEvery {
			continue
		}
		if !d.queue(cursor, ds) {
			return
		}
		saved, savedAt = cursor, time.Now()
		if len(ds) > 0 {
			d.poke()
		}
	}
}

// watch feeds events after cursor into out until the dispatcher stops,
// starting again (from the last event passed on) if the watch fails.
func (d *Dispatcher) watch(cursor int64, out chan<- domain.Event) {
	for d.ctx.Err() == nil {
		err := d.store.Watch(d.ctx, cursor, d.opts.Poll, func(ev domain.Event) {
			select {
			case out <- ev:
				cursor = ev.ID
			case <-d.ctx.Done():
			}
		})
		if err != nil {
			d.log.Error("watch events", "err", err)
			sleep(d.ctx, time.Second)
		}
	}
}

// queue stores ds and the cursor, retrying until it works or the
// dispatcher stops; it reports false in the latter case.
func (d *Dispatcher) queue(cursor int64, ds []catalog.NewDelivery) bool {
	for {
		err := d.store.QueueDeliveries(d.ctx, cursor, ds)
		if err == nil {
			return true
		}
		if d.ctx.Err() != nil {
			return false
		}
		d.log.Error("queue deliveries", "err", err)
		if !sleep(d.ctx, time.Second) {
			return false
		}
	}
}

func (d *Dispatcher) saveCursor(saved, cursor int64) {
	if cursor == saved {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := d.store.QueueDeliveries(ctx, cursor, nil); err != nil {
		d.log.Warn("save delivery cursor", "err", err)
	}
}

func (d *Dispatcher) deliveriesFor(evs []domain.Event) []catalog.NewDelivery {
	var out []catalog.NewDelivery
	targets := d.live()
	for _, ev := range evs {
		var payload []byte
		for _, t := range targets {
			if !t.wants(ev.Type) {
				continue
			}
			if payload == nil {
				payload = Payload(ev)
			}
			out = append(out, catalog.NewDelivery{EndpointID: t.id, EventID: ev.ID, EventType: ev.Type,
				MsgID: "msg_" + rand.Text(), Payload: payload})
		}
	}
	return out
}

// Payload is the body sent for ev, in the Standard Webhooks shape: type,
// timestamp and data (the backup as it was after the change), plus the
// event's id in the catalog.
func Payload(ev domain.Event) []byte {
	p, _ := json.Marshal(struct {
		Type      string          `json:"type"`
		Timestamp time.Time       `json:"timestamp"`
		EventID   int64           `json:"event_id"`
		Data      json.RawMessage `json:"data"`
	}{ev.Type, ev.Time.UTC(), ev.ID, ev.Data})
	return p
}

// poke wakes the sender without waiting.
func (d *Dispatcher) poke() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// sleep waits for dur or ctx; it reports whether the whole dur passed.
func sleep(ctx context.Context, dur time.Duration) bool {
	t := time.NewTimer(dur)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
