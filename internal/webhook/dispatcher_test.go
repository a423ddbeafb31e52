package webhook_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/backupd/backupd/internal/catalog"
	"github.com/backupd/backupd/internal/config"
	"github.com/backupd/backupd/internal/domain"
	"github.com/backupd/backupd/internal/webhook"
)

// receiver is an outbound endpoint that checks every signature and answers
// with what answer returns for the n-th request (from 1).
type receiver struct {
	t      *testing.T
	srv    *httptest.Server
	calls  atomic.Int64
	mu     sync.Mutex
	msgIDs []string
	bad    []string
}

func newReceiver(t *testing.T, answer func(n int64, w http.ResponseWriter)) *receiver {
	t.Helper()
	v, err := webhook.NewVerifier([]string{secretNew}, 0)
	if err != nil {
		t.Fatal(err)
	}
	rc := &receiver{t: t}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		id, err := v.Verify(r.Header, body)
		rc.mu.Lock()
		rc.msgIDs = append(rc.msgIDs, id)
		if err != nil {
			rc.bad = append(rc.bad, err.Error())
		}
		rc.mu.Unlock()
		answer(rc.calls.Add(1), w)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) check() {
	rc.t.Helper()
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.bad) > 0 {
		rc.t.Errorf("receiver could not verify: %v", rc.bad)
	}
	for _, id := range rc.msgIDs {
		if id != rc.msgIDs[0] {
			rc.t.Errorf("webhook-id changed between attempts: %v", rc.msgIDs)
			return
		}
	}
}

var fast = webhook.Options{BaseDelay: 5 * time.Millisecond, MaxDelay: 20 * time.Millisecond, Poll: 10 * time.Millisecond}

func startDispatcher(t *testing.T, db *catalog.DB, opts webhook.Options, urls ...string) *webhook.Dispatcher {
	t.Helper()
	var eps []config.Outbound
	for _, u := range urls {
		eps = append(eps, config.Outbound{URL: u, Secret: secretNew})
	}
	d, err := webhook.NewDispatcher(db, eps, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	return d
}

// finishBackup makes a backup.succeeded event.
func finishBackup(t *testing.T, db *catalog.DB, source string) domain.Backup {
	t.Helper()
	ctx := context.Background()
	b, err := db.CreateBackup(ctx, source, "files")
	if err == nil {
		_, err = db.StartBackup(ctx, b.ID, source+".tar.zst")
	}
	if err == nil {
		b, err = db.FinishBackup(ctx, b.ID, domain.Finish{Status: domain.StatusSucceeded, SizeBytes: 1})
	}
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// waitDeliveries waits until cond holds for the deliveries with the given
// status; the deadline only keeps a broken build from hanging.
func waitDeliveries(t *testing.T, db *catalog.DB, status string, cond func([]catalog.Delivery) bool) []catalog.Delivery {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		list, err := db.ListDeliveries(context.Background(), catalog.DeliveryFilter{Status: status})
		if err != nil {
			t.Fatal(err)
		}
		if cond(list) {
			return list
		}
		if time.Now().After(deadline) {
			all, _ := db.ListDeliveries(context.Background(), catalog.DeliveryFilter{})
			t.Fatalf("gave up waiting for %s deliveries; all: %+v", status, all)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func atLeast(n int) func([]catalog.Delivery) bool {
	return func(l []catalog.Delivery) bool { return len(l) >= n }
}

func TestDispatchRetriesFlakyReceiver(t *testing.T) {
	db := openCatalog(t, filepath.Join(t.TempDir(), "catalog.db"))
	defer db.Close()
	rc := newReceiver(t, func(n int64, w http.ResponseWriter) {
		switch n {
		case 1, 2:
			w.WriteHeader(http.StatusInternalServerError)
		case 3:
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusTooManyRequests)
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	})
	d := startDispatcher(t, db, fast, rc.srv.URL)
	defer d.Close()
	b := finishBackup(t, db, "docs")
	got := waitDeliveries(t, db, catalog.DeliveryDelivered, atLeast(1))[0]
	if got.Attempts != 4 || got.LastStatusCode != http.StatusNoContent || got.EventType != domain.EventBackupSucceeded || got.DeliveredAt == nil {
		t.Errorf("delivery %+v", got)
	}
	if rc.calls.Load() != 4 {
		t.Errorf("receiver saw %d requests, want 4", rc.calls.Load())
	}
	rc.check()
	evs, _ := db.ListEvents(context.Background(), 0, 100)
	if got.EventID != evs[len(evs)-1].ID || evs[len(evs)-1].BackupID != b.ID {
		t.Errorf("delivered event %d, want the last one", got.EventID)
	}
}

func TestDispatchGivesUp(t *testing.T) {
	db := openCatalog(t, filepath.Join(t.TempDir(), "catalog.db"))
	defer db.Close()
	rc := newReceiver(t, func(n int64, w http.ResponseWriter) { w.WriteHeader(http.StatusBadGateway) })
	opts := fast
	opts.MaxAttempts = 3
	d := startDispatcher(t, db, opts, rc.srv.URL)
	defer d.Close()
	finishBackup(t, db, "docs")
	got := waitDeliveries(t, db, catalog.DeliveryFailed, atLeast(1))[0]
	if got.Attempts != 3 || got.LastStatusCode != http.StatusBadGateway {
		t.Errorf("failed delivery %+v", got)
	}
}

func TestDispatch410DisablesEndpoint(t *testing.T) {
	db := openCatalog(t, filepath.Join(t.TempDir(), "catalog.db"))
	defer db.Close()
	gone := newReceiver(t, func(n int64, w http.ResponseWriter) { w.WriteHeader(http.StatusGone) })
	ok := newReceiver(t, func(n int64, w http.ResponseWriter) { w.WriteHeader(http.StatusOK) })
	d := startDispatcher(t, db, fast, gone.srv.URL, ok.srv.URL)
	finishBackup(t, db, "a")
	waitDeliveries(t, db, catalog.DeliveryCanceled, atLeast(1))
	waitDeliveries(t, db, catalog.DeliveryDelivered, atLeast(1))
	d.Close()

	// The endpoint stays disabled across a restart: a new event reaches
	// only the other endpoint.
	d = startDispatcher(t, db, fast, gone.srv.URL, ok.srv.URL)
	defer d.Close()
	finishBackup(t, db, "b")
	waitDeliveries(t, db, catalog.DeliveryDelivered, atLeast(2))
	all, _ := db.ListDeliveries(context.Background(), catalog.DeliveryFilter{})
	if len(all) != 3 {
		t.Errorf("%d deliveries, want 3 (nothing queued for the disabled endpoint)", len(all))
	}
	if gone.calls.Load() != 1 {
		t.Errorf("gone endpoint called %d times, want 1", gone.calls.Load())
	}
	eps, _ := db.Endpoints(context.Background(), nil)
	if eps[gone.srv.URL].DisabledAt == nil || eps[ok.srv.URL].DisabledAt != nil {
		t.Errorf("endpoints after 410: %+v", eps)
	}
	gone.check()
}

// Enable sends to an endpoint again after a 410. (That nothing is queued
// for it while it is disabled is TestDeliveryQueue's, in the catalog.)
func TestDispatchEnableAfter410(t *testing.T) {
	ctx := context.Background()
	db := openCatalog(t, filepath.Join(t.TempDir(), "catalog.db"))
	defer db.Close()
	back := newReceiver(t, func(n int64, w http.ResponseWriter) {
		if n == 1 {
			w.WriteHeader(http.StatusGone)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	d := startDispatcher(t, db, fast, back.srv.URL)
	defer d.Close()
	finishBackup(t, db, "a")
	waitDeliveries(t, db, catalog.DeliveryCanceled, atLeast(1))

	list, err := d.Endpoints(ctx)
	if err != nil || len(list) != 1 || list[0].DisabledAt == nil || list[0].URL != back.srv.URL {
		t.Fatalf("Endpoints after 410 = %+v, %v; want the endpoint, disabled", list, err)
	}
	if got, want := list[0].Events, []string{"backup.canceled", "backup.failed", "backup.succeeded"}; !slices.Equal(got, want) {
		t.Errorf("events = %v, want %v", got, want)
	}
	if _, err := d.Enable(ctx, list[0].ID+100); domain.ErrorCode(err) != domain.ENOTFOUND {
		t.Errorf("Enable(unknown id) = %v, want ENOTFOUND", err)
	}
	e, err := d.Enable(ctx, list[0].ID)
	if err != nil || e.DisabledAt != nil || e.URL != back.srv.URL {
		t.Fatalf("Enable = %+v, %v", e, err)
	}
	finishBackup(t, db, "b")
	delivered := waitDeliveries(t, db, catalog.DeliveryDelivered, atLeast(1))
	if len(delivered) != 1 || back.calls.Load() != 2 {
		t.Errorf("after Enable: %d delivered, %d calls; want 1 and 2", len(delivered), back.calls.Load())
	}
	eps, _ := db.Endpoints(ctx, nil)
	if eps[back.srv.URL].DisabledAt != nil || eps[back.srv.URL].DisabledReason != "" {
		t.Errorf("catalog after Enable: %+v", eps[back.srv.URL])
	}
}

func TestDispatchSurvivesRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "catalog.db")
	var up atomic.Bool
	rc := newReceiver(t, func(n int64, w http.ResponseWriter) {
		if up.Load() {
			w.WriteHeader(http.StatusOK)
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	db := openCatalog(t, path)
	opts := fast
	opts.BaseDelay, opts.MaxDelay = 200*time.Millisecond, 200*time.Millisecond
	d := startDispatcher(t, db, opts, rc.srv.URL)
	first := finishBackup(t, db, "first")
	waitDeliveries(t, db, catalog.DeliveryPending, func(l []catalog.Delivery) bool { return len(l) == 1 && l[0].Attempts >= 1 })
	d.Close()
	// An event committed while no dispatcher runs is queued after restart.
	second := finishBackup(t, db, "second")
	db.Close()

	up.Store(true)
	db = openCatalog(t, path)
	defer db.Close()
	d = startDispatcher(t, db, fast, rc.srv.URL)
	defer d.Close()
	list := waitDeliveries(t, db, catalog.DeliveryDelivered, atLeast(2))
	if len(list) != 2 {
		t.Fatalf("%d deliveries after restart, want 2: %+v", len(list), list)
	}
	evs, _ := db.ListEvents(context.Background(), 0, 100)
	byEvent := map[int64]int64{}
	for _, ev := range evs {
		byEvent[ev.ID] = ev.BackupID
	}
	if byEvent[list[1].EventID] != first.ID || list[1].Attempts < 2 {
		t.Errorf("first delivery %+v: want backup %d, retried after the restart", list[1], first.ID)
	}
	if byEvent[list[0].EventID] != second.ID {
		t.Errorf("second delivery is for backup %d, want %d", byEvent[list[0].EventID], second.ID)
	}
	// Every attempt at one delivery carried its webhook-id.
	rc.mu.Lock()
	defer rc.mu.Unlock()
	counts := map[string]int{}
	for _, id := range rc.msgIDs {
		counts[id]++
	}
	if counts[list[1].MsgID] != list[1].Attempts || counts[list[0].MsgID] != 1 {
		t.Errorf("webhook-ids seen %v; deliveries %s (%d attempts), %s", counts, list[1].MsgID, list[1].Attempts, list[0].MsgID)
	}
}
