package catalog_test

import (
	"context"
	"fmt"
	"testing"
)

// TestListEventsBytes: a page stops once its data reach the bound, and
// holds at least one event whatever the bound.
func TestListEventsBytes(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	for i := range 5 {
		if _, err := db.CreateBackup(ctx, fmt.Sprintf("src%d", i), "files"); err != nil {
			t.Fatal(err)
		}
	}
	all, err := db.ListEvents(ctx, 0, 100)
	if err != nil || len(all) != 5 {
		t.Fatalf("ListEvents = %d events, %v; want 5", len(all), err)
	}
	for _, tc := range []struct {
		maxBytes int64
		want     int
	}{
		{0, 5},
		{1, 1},
		{int64(len(all[0].Data)), 1},
		{int64(len(all[0].Data)) + 1, 2},
		{1 << 20, 5},
	} {
		evs, err := db.ListEventsBytes(ctx, 0, 100, tc.maxBytes)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != tc.want {
			t.Errorf("maxBytes %d: %d events, want %d", tc.maxBytes, len(evs), tc.want)
		}
		for i, ev := range evs {
			if ev.ID != all[i].ID || string(ev.Data) != string(all[i].Data) {
				t.Errorf("maxBytes %d: event %d = %+v, want %+v", tc.maxBytes, i, ev, all[i])
			}
		}
	}
	if evs, err := db.ListEventsBytes(ctx, 0, 3, 1<<20); err != nil || len(evs) != 3 {
		t.Errorf("limit 3: %d events, %v; want 3", len(evs), err)
	}
}
