package catalog_test

import (
	"context"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/backupd/backupd/internal/catalog"
	"github.com/backupd/backupd/internal/domain"
)

// finish runs one backup of source through to status.
func finish(t *testing.T, db *catalog.DB, source string, status domain.Status, size int64) domain.Backup {
	t.Helper()
	ctx := context.Background()
	b, err := db.CreateBackup(ctx, source, "files")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.StartBackup(ctx, b.ID, source+".tar.zst"); err != nil {
		t.Fatal(err)
	}
	if b, err = db.FinishBackup(ctx, b.ID, domain.Finish{Status: status, SizeBytes: size}); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestStatsLastAttempt(t *testing.T) {
	db := openDB(t)
	ok := finish(t, db, "flaky", domain.StatusSucceeded, 100)
	failed := finish(t, db, "flaky", domain.StatusFailed, 0)
	finish(t, db, "flaky", domain.StatusCanceled, 0) // not an attempt
	finish(t, db, "good", domain.StatusSucceeded, 7)

	stats, err := db.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	st := stats["flaky"]
	if st == nil || !st.LastSuccess.Equal(*ok.FinishedAt) || st.LastSize != 100 ||
		!st.LastAttempt.Equal(*failed.FinishedAt) || st.LastAttemptOK {
		t.Fatalf("flaky: %+v, want last success %s (100 bytes), last attempt %s failed", st, ok.FinishedAt, failed.FinishedAt)
	}
	if st := stats["good"]; st == nil || !st.LastAttemptOK || !st.LastAttempt.Equal(st.LastSuccess) {
		t.Fatalf("good: %+v", st)
	}
}

func TestCollectorConfiguredSources(t *testing.T) {
	db := openDB(t)
	finish(t, db, "broken", domain.StatusFailed, 0)
	c := catalog.Collector{DB: db, Sources: func() []string { return []string{"broken", "new"} }}
	if problems, err := testutil.CollectAndLint(c); err != nil || len(problems) > 0 {
		t.Fatalf("lint: %v %v", problems, err)
	}
	// A source that never ran has 0 for its times and no outcome; one that
	// only failed has 0 for its last success and a failed attempt.
	want := `
# HELP backupd_last_attempt_success 1 if the newest backup of each source that ended succeeded, 0 if it failed; absent for a source that was never attempted (backupd_last_success_timestamp_seconds is 0 for it).
# TYPE backupd_last_attempt_success gauge
backupd_last_attempt_success{source="broken"} 0
# HELP backupd_last_success_timestamp_seconds When the newest succeeded backup of each source finished (Unix time), local or reported; 0 for a configured source that never succeeded. Read from the catalog at each scrape, so it survives restarts. Alert on time() minus this.
# TYPE backupd_last_success_timestamp_seconds gauge
backupd_last_success_timestamp_seconds{source="broken"} 0
backupd_last_success_timestamp_seconds{source="new"} 0
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want),
		"backupd_last_attempt_success", "backupd_last_success_timestamp_seconds"); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(c, "backupd_last_attempt_timestamp_seconds"); n != 2 {
		t.Fatalf("backupd_last_attempt_timestamp_seconds has %d series, want 2", n)
	}
	if n := testutil.CollectAndCount(c, "backupd_last_success_size_bytes"); n != 0 {
		t.Fatalf("backupd_last_success_size_bytes has %d series, want none before a success", n)
	}
	var _ prometheus.Collector = c
}
