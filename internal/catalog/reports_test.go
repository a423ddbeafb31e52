package catalog_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/backupd/backupd/internal/domain"
)

func report(webhookID, source string, st domain.Status) domain.Backup {
	now := time.Now()
	return domain.Backup{Source: source, Origin: domain.OriginWebhook, Status: st, WebhookID: webhookID,
		SenderIP: "192.0.2.7", ReceivedAt: &now, CreatedAt: now, Raw: []byte(`{"source":"` + source + `"}`)}
}

func countRows(t *testing.T, db interface {
	Backups(context.Context, domain.BackupFilter) ([]domain.Backup, error)
	ListEvents(context.Context, int64, int) ([]domain.Event, error)
}) (backups, events int) {
	t.Helper()
	bs, err := db.Backups(context.Background(), domain.BackupFilter{Limit: domain.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	evs, err := db.ListEvents(context.Background(), 0, domain.MaxLimit)
	if err != nil {
		t.Fatal(err)
	}
	return len(bs), len(evs)
}

func TestCreateReportsBatch(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	first, err := db.CreateReports(ctx, []domain.Backup{report("msg_a", "pg", domain.StatusSucceeded)})
	if err != nil {
		t.Fatal(err)
	}
	if !first[0].Created || first[0].Err != nil {
		t.Fatalf("first report: %+v", first[0])
	}
	// A redelivery of msg_a, a duplicate inside the batch (msg_b twice) and
	// a report that breaks a constraint (an unknown status) in one batch.
	res, err := db.CreateReports(ctx, []domain.Backup{
		report("msg_a", "pg", domain.StatusFailed),
		report("msg_b", "mysql", domain.StatusFailed),
		report("msg_c", "x", domain.Status("bogus")),
		report("msg_b", "mysql", domain.StatusSucceeded),
		report("msg_d", "files", domain.StatusSucceeded),
	})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Created || res[0].Backup.ID != first[0].Backup.ID || res[0].Backup.Status != domain.StatusSucceeded {
		t.Errorf("redelivery: got %+v, want the first record unchanged", res[0])
	}
	if !res[1].Created || res[1].Err != nil {
		t.Errorf("msg_b: %+v", res[1])
	}
	if res[2].Err == nil || res[2].Created {
		t.Errorf("bad status: err = nil, want a constraint error for this report alone")
	}
	if res[3].Created || res[3].Backup.ID != res[1].Backup.ID {
		t.Errorf("duplicate in batch: got id %d created %v, want id %d not created", res[3].Backup.ID, res[3].Created, res[1].Backup.ID)
	}
	if !res[4].Created || res[4].Err != nil {
		t.Errorf("report after the failed one: %+v", res[4])
	}
	backups, events := countRows(t, db)
	if backups != 3 || events != 3 {
		t.Fatalf("rows: %d backups, %d events; want 3 and 3 (one per new report)", backups, events)
	}
	got, err := db.ReportByWebhookID(ctx, "msg_d")
	if err != nil {
		t.Fatal(err)
	}
	if got.Origin != domain.OriginWebhook || got.SenderIP != "192.0.2.7" || string(got.Raw) != `{"source":"files"}` || got.ReceivedAt == nil {
		t.Errorf("stored report: %+v", got)
	}
	evs, _ := db.ListEvents(ctx, 0, 10)
	if evs[2].Type != domain.EventReportReceived || evs[2].BackupID != got.ID {
		t.Errorf("last event = %s for backup %d, want %s for %d", evs[2].Type, evs[2].BackupID, domain.EventReportReceived, got.ID)
	}
	if _, err := db.ReportByWebhookID(ctx, "msg_c"); domain.ErrorCode(err) != domain.ENOTFOUND {
		t.Errorf("failed report is stored: err = %v", err)
	}
}

// CreateReports builds each report.received event from the record it wrote
// instead of reading the row back; this holds it to the row as read.
func TestCreateReportsEventIsTheStoredRow(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	local := time.FixedZone("x", 3600)
	started, finished := time.Date(2026, 1, 2, 3, 4, 5, 123456789, local), time.Date(2026, 1, 2, 4, 0, 0, 0, time.UTC)
	r := report("msg_full", "pg", domain.StatusFailed)
	r.Kind, r.StartedAt, r.FinishedAt, r.SizeBytes, r.SHA256 = "postgres", &started, &finished, 42, "ab"
	r.Error, r.Archive, r.Message, r.ReceivedAt, r.CreatedAt = "disk full", "s3://b/k", "hello", nil, time.Now().In(local)
	res, err := db.CreateReports(ctx, []domain.Backup{r, report("msg_min", "x", domain.StatusSucceeded)})
	if err != nil {
		t.Fatal(err)
	}
	evs, err := db.ListEvents(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	for i, res := range res {
		stored, err := db.Backup(ctx, res.Backup.ID)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(stored)
		got, _ := json.Marshal(res.Backup)
		if string(got) != string(want) {
			t.Errorf("result:\n got %s\nwant %s", got, want)
		}
		if string(evs[i].Data) != string(want) {
			t.Errorf("event data:\n got %s\nwant %s", evs[i].Data, want)
		}
	}
}
