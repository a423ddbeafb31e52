package dashboardtest

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/backupd/backupd/internal/catalog"
	"github.com/backupd/backupd/internal/domain"
	"github.com/backupd/backupd/internal/testdaemon"
	"github.com/backupd/backupd/migrations"
)

var reportSeq atomic.Int64

// storeReports writes completion reports straight into the daemon's
// catalog, as a second process would; each one's event is committed in the
// same transaction, and the daemon's watcher (or, when the daemon is
// stopped, the hub's replay after it starts) delivers it. Fields left zero
// are filled in as the webhook intake would.
func storeReports(t *testing.T, d *testdaemon.Daemon, reports ...domain.Backup) []domain.Backup {
	t.Helper()
	ctx := context.Background()
	db, err := catalog.Open(ctx, filepath.Join(d.DataDir, "catalog.db"), migrations.FS)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Now().UTC()
	for i := range reports {
		r := &reports[i]
		r.Origin, r.ReceivedAt, r.SenderIP, r.Raw = domain.OriginWebhook, &now, "127.0.0.1", []byte(`{}`)
		r.WebhookID = fmt.Sprintf("test_%d", reportSeq.Add(1))
		if r.Status == "" {
			r.Status = domain.StatusSucceeded
		}
		if r.FinishedAt == nil {
			r.FinishedAt = &now
		}
	}
	res, err := db.CreateReports(ctx, reports)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]domain.Backup, len(res))
	for i, r := range res {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		out[i] = r.Backup
	}
	return out
}
