package webhook_test

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"testing"

	"github.com/backupd/backupd/internal/domain"
	"github.com/backupd/backupd/internal/webhook"
)

func TestGroupCommitConcurrentSenders(t *testing.T) {
	in := newInbound(t)
	const senders = 64
	k := key(t, secretNew)
	ids := make([]any, senders)
	var wg sync.WaitGroup
	errs := make(chan error, senders)
	for i := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, body, err := in.send(k, fmt.Sprintf("msg_%d", i), fmt.Sprintf(`{"source":"s%d"}`, i))
			if err != nil {
				errs <- err
				return
			}
			if code != http.StatusOK {
				errs <- fmt.Errorf("sender %d: %d %v", i, code, body)
				return
			}
			ids[i] = body["id"]
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	seen := map[any]bool{}
	for i, id := range ids {
		if id == nil || seen[id] {
			t.Fatalf("sender %d got id %v (duplicate or missing)", i, id)
		}
		seen[id] = true
		b, err := in.db.ReportByWebhookID(context.Background(), fmt.Sprintf("msg_%d", i))
		if err != nil || float64(b.ID) != id.(float64) || b.Source != fmt.Sprintf("s%d", i) {
			t.Fatalf("sender %d: stored %+v, %v; answered id %v", i, b, err, id)
		}
	}
	if b, e := in.counts(t); b != senders || e != senders {
		t.Fatalf("%d backups, %d events; want %d of each", b, e, senders)
	}
}

func TestIntakeClosedRefuses(t *testing.T) {
	db := openCatalog(t, filepath.Join(t.TempDir(), "catalog.db"))
	defer db.Close()
	in := webhook.NewIntake(db, 0)
	in.Open()
	if _, err := in.Submit(context.Background(), domain.Backup{Source: "a", Status: domain.StatusSucceeded, WebhookID: "m1"}); err != nil {
		t.Fatal(err)
	}
	in.Close()
	_, err := in.Submit(context.Background(), domain.Backup{Source: "a", Status: domain.StatusSucceeded, WebhookID: "m2"})
	if got, want := domain.ErrorCode(err), domain.EUNAVAILABLE; got != want {
		t.Fatalf("submit after close: code %q (%v), want %q", got, err, want)
	}
}
