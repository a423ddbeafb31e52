package catalog_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/backupd/backupd/internal/catalog"
	"github.com/backupd/backupd/internal/domain"
)

// runLocal runs one local backup of source through its lifecycle to st.
func runLocal(t *testing.T, db *catalog.DB, source string, st domain.Status, size int64) domain.Backup {
	t.Helper()
	ctx := context.Background()
	b, err := db.CreateBackup(ctx, source, "command")
	if err != nil {
		t.Fatal(err)
	}
	if st == domain.StatusCanceled {
		if b, err = db.CancelQueued(ctx, b.ID); err != nil {
			t.Fatal(err)
		}
		return b
	}
	if _, err := db.StartBackup(ctx, b.ID, source+".tar.zst"); err != nil {
		t.Fatal(err)
	}
	f := domain.Finish{Status: st, SizeBytes: size}
	if st == domain.StatusFailed {
		f.Error = "exit status 1"
	}
	if b, err = db.FinishBackup(ctx, b.ID, f); err != nil {
		t.Fatal(err)
	}
	return b
}

// The newest success and failure of each source asked about, and its last
// n finished backups oldest first, reports included, active ones and other
// sources left out.
func TestSourceHealth(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	var okIDs []int64
	for i := range 5 {
		okIDs = append(okIDs, runLocal(t, db, "db", domain.StatusSucceeded, int64(i+1)*100).ID)
	}
	fail := runLocal(t, db, "db", domain.StatusFailed, 0)
	canceled := runLocal(t, db, "db", domain.StatusCanceled, 0)
	if _, err := db.CreateBackup(ctx, "db", "command"); err != nil { // queued: not history
		t.Fatal(err)
	}
	runLocal(t, db, "broken", domain.StatusFailed, 0)
	runLocal(t, db, "other", domain.StatusSucceeded, 1)
	start := time.Now().Add(-90 * time.Second)
	rep := report("msg_files", "files", domain.StatusSucceeded)
	rep.StartedAt, rep.FinishedAt, rep.SizeBytes = &start, rep.ReceivedAt, 4096
	if _, err := db.CreateReports(ctx, []domain.Backup{rep}); err != nil {
		t.Fatal(err)
	}

	got, err := db.SourceHealth(ctx, []string{"db", "broken", "files", "never"}, 4)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := got["other"]; ok {
		t.Errorf("health of a source not asked about: %+v", got["other"])
	}
	if _, ok := got["never"]; ok {
		t.Errorf("health of a source without backups: %+v", got["never"])
	}
	h := got["db"]
	if h.LastSuccess == nil || h.LastSuccess.ID != okIDs[4] || h.LastSuccess.SizeBytes != 500 {
		t.Errorf("db last success = %+v, want backup %d", h.LastSuccess, okIDs[4])
	}
	if h.LastFailure == nil || h.LastFailure.ID != fail.ID || h.LastFailure.Error != "exit status 1" {
		t.Errorf("db last failure = %+v, want backup %d with its error", h.LastFailure, fail.ID)
	}
	var ids []string
	for _, p := range h.History {
		ids = append(ids, fmt.Sprintf("%d:%s", p.ID, p.Status))
		if p.FinishedAt == nil {
			t.Errorf("history point %d without finished_at", p.ID)
		}
	}
	want := []string{
		fmt.Sprintf("%d:succeeded", okIDs[3]), fmt.Sprintf("%d:succeeded", okIDs[4]),
		fmt.Sprintf("%d:failed", fail.ID), fmt.Sprintf("%d:canceled", canceled.ID),
	}
	if fmt.Sprint(ids) != fmt.Sprint(want) {
		t.Errorf("db history = %v, want %v (the last 4 finished, oldest first)", ids, want)
	}
	if b := got["broken"]; b.LastSuccess != nil || b.LastFailure == nil || len(b.History) != 1 {
		t.Errorf("broken = %+v, want a failure and no success", b)
	}
	f := got["files"]
	if f.LastSuccess == nil || f.LastSuccess.Origin != domain.OriginWebhook || len(f.History) != 1 {
		t.Fatalf("files = %+v, want the report as last success and history", f)
	}
	if d := f.History[0].DurationSeconds; d < 89 || d > 95 {
		t.Errorf("report's duration = %v s, want about 90", d)
	}
	if f.History[0].SizeBytes != 4096 {
		t.Errorf("report's size = %d, want 4096", f.History[0].SizeBytes)
	}

	if empty, err := db.SourceHealth(ctx, nil, 30); err != nil || len(empty) != 0 {
		t.Errorf("no sources: %v, %v", empty, err)
	}
}
