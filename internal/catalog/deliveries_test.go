package catalog_test

import (
	"context"
	"testing"
	"time"

	"github.com/backupd/backupd/internal/catalog"
	"github.com/backupd/backupd/internal/domain"
)

func TestDeliveryQueue(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	eps, err := db.Endpoints(ctx, []string{"http://a.example/hook", "http://b.example/hook"})
	if err != nil {
		t.Fatal(err)
	}
	a, b := eps["http://a.example/hook"], eps["http://b.example/hook"]
	if a.ID == 0 || b.ID == 0 || a.ID == b.ID {
		t.Fatalf("endpoints: %+v", eps)
	}
	ds := []catalog.NewDelivery{
		{EndpointID: a.ID, EventID: 1, EventType: "backup.succeeded", MsgID: "msg_1", Payload: []byte(`{}`)},
		{EndpointID: b.ID, EventID: 1, EventType: "backup.succeeded", MsgID: "msg_2", Payload: []byte(`{}`)},
		{EndpointID: a.ID, EventID: 2, EventType: "backup.failed", MsgID: "msg_3", Payload: []byte(`{}`)},
	}
	if err := db.QueueDeliveries(ctx, 2, ds); err != nil {
		t.Fatal(err)
	}
	// Queuing the same (endpoint, event) again changes nothing.
	if err := db.QueueDeliveries(ctx, 1, ds[:1]); err != nil {
		t.Fatal(err)
	}
	if c, err := db.DeliveryCursor(ctx); err != nil || c != 2 {
		t.Fatalf("cursor = %d, %v; want 2 (it never moves back)", c, err)
	}
	due, err := db.DueDeliveries(ctx, []int64{a.ID, b.ID}, time.Now(), 10)
	if err != nil || len(due) != 3 {
		t.Fatalf("due = %d, %v; want 3", len(due), err)
	}
	now := time.Now()
	if err := db.RecordAttempt(ctx, due[0].ID, catalog.Attempt{At: now, StatusCode: 200, Status: catalog.DeliveryDelivered}); err != nil {
		t.Fatal(err)
	}
	if err := db.RecordAttempt(ctx, due[2].ID, catalog.Attempt{At: now, StatusCode: 500, Error: "boom",
		Status: catalog.DeliveryPending, NextAttemptAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if next, ok, err := db.NextAttemptAt(ctx, []int64{a.ID}); err != nil || !ok || !next.After(now) {
		t.Fatalf("next attempt = %v %v %v, want in an hour", next, ok, err)
	}
	// 410 on b's delivery: endpoint b is disabled, its pending ones canceled.
	if err := db.RecordAttempt(ctx, due[1].ID, catalog.Attempt{At: now, StatusCode: 410,
		Status: catalog.DeliveryCanceled, DisableEndpoint: "410 Gone"}); err != nil {
		t.Fatal(err)
	}
	list, err := db.ListDeliveries(ctx, catalog.DeliveryFilter{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, d := range list {
		got[d.MsgID] = d.Status
		if d.Attempts != 1 {
			t.Errorf("%s: attempts = %d, want 1", d.MsgID, d.Attempts)
		}
	}
	want := map[string]string{"msg_1": "delivered", "msg_2": "canceled", "msg_3": "pending"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: status %q, want %q", k, got[k], v)
		}
	}
	eps, _ = db.Endpoints(ctx, nil)
	if eps["http://b.example/hook"].DisabledAt == nil || eps["http://a.example/hook"].DisabledAt != nil {
		t.Errorf("after 410: %+v", eps)
	}
	if due, _ := db.DueDeliveries(ctx, []int64{b.ID}, now.Add(2*time.Hour), 10); len(due) != 0 {
		t.Errorf("disabled endpoint still has %d due", len(due))
	}

	// Nothing is queued for a disabled endpoint, whatever the caller asks.
	late := catalog.NewDelivery{EndpointID: b.ID, EventID: 3, EventType: "backup.succeeded", MsgID: "msg_4", Payload: []byte(`{}`)}
	if err := db.QueueDeliveries(ctx, 3, []catalog.NewDelivery{late}); err != nil {
		t.Fatal(err)
	}
	if list, _ := db.ListDeliveries(ctx, catalog.DeliveryFilter{}); len(list) != 3 {
		t.Errorf("%d deliveries after queuing one for a disabled endpoint, want 3", len(list))
	}
	// Enabled again, it is queued for from then on.
	e, err := db.EnableEndpoint(ctx, b.ID)
	if err != nil || e.URL != "http://b.example/hook" {
		t.Fatalf("EnableEndpoint = %+v, %v", e, err)
	}
	if err := db.QueueDeliveries(ctx, 3, []catalog.NewDelivery{late}); err != nil {
		t.Fatal(err)
	}
	if due, _ := db.DueDeliveries(ctx, []int64{b.ID}, time.Now(), 10); len(due) != 1 || due[0].MsgID != "msg_4" {
		t.Errorf("due after enabling = %+v, want msg_4 alone", due)
	}
	if _, err := db.EnableEndpoint(ctx, 999); domain.ErrorCode(err) != domain.ENOTFOUND {
		t.Errorf("EnableEndpoint(999) = %v, want ENOTFOUND", err)
	}
}
