package catalog_test

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/backupd/backupd/internal/catalog"
	"github.com/backupd/backupd/internal/domain"
)

// succeeded records a finished backup of source whose record says it was
// created at created; its size is its id.
func succeeded(t *testing.T, db *catalog.DB, raw *sql.DB, source string, created time.Time) domain.Backup {
	t.Helper()
	ctx := context.Background()
	b, err := db.CreateBackup(ctx, source, "files")
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("%s-%d.tar.zst", source, b.ID)
	if _, err := db.StartBackup(ctx, b.ID, name); err != nil {
		t.Fatal(err)
	}
	if b, err = db.FinishBackup(ctx, b.ID, domain.Finish{Status: domain.StatusSucceeded, SizeBytes: b.ID, SHA256: "ab"}); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`UPDATE backups SET created_at = ? WHERE id = ?`, created.UTC().Format(time.RFC3339Nano), b.ID); err != nil {
		t.Fatal(err)
	}
	return b
}

// Retention keeps what any rule keeps, counting calendar days by the
// records' creation times; the others lose their archive names (returned
// for deletion) in one transaction with a backup.expired event each, and
// other sources, failed backups and the records themselves are left alone.
func TestExpireArchivesByCalendar(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	raw, err := sql.Open("sqlite3", "file:"+db.Path()+"?_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	day := func(s string) time.Time {
		tm, err := time.Parse("2006-01-02 15:04", s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	var s []domain.Backup
	for _, at := range []string{"2025-12-20 03:00", "2026-01-01 03:00", "2026-01-01 15:00", "2026-01-02 03:00", "2026-01-05 03:00", "2026-01-20 03:00", "2026-02-03 03:00"} {
		s = append(s, succeeded(t, db, raw, "s", day(at)))
	}
	other := succeeded(t, db, raw, "other", day("2025-01-01 03:00"))
	failed, err := db.CreateBackup(ctx, "s", "files")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.StartBackup(ctx, failed.ID, "s-failed.tar.zst"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.FinishBackup(ctx, failed.ID, domain.Finish{Status: domain.StatusFailed, Error: "boom"}); err != nil {
		t.Fatal(err)
	}
	lastEvent, _ := db.LastEventID(ctx)

	// keep 1: Feb 3. keep_daily 3: Feb 3, Jan 20, Jan 5. keep_monthly 3:
	// Feb 3, Jan 20, Dec 20. Gone: both of Jan 1, and Jan 2.
	r := domain.Retention{Last: 1, Daily: 3, Monthly: 3}
	expiredNow, err := db.ExpireArchives(ctx, "s", r, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range expiredNow {
		names = append(names, e.Archive)
	}
	want := []string{s[3].Archive, s[2].Archive, s[1].Archive}
	if !slices.Equal(names, want) {
		t.Fatalf("%s expired %v, want %v", r, names, want)
	}
	for i, b := range s {
		got, err := db.Backup(ctx, b.ID)
		if err != nil {
			t.Fatal(err)
		}
		gone := i >= 1 && i <= 3
		if (got.Archive == "") != gone || got.Status != domain.StatusSucceeded {
			t.Errorf("backup %d of %s: archive %q, status %s; expired: %v", b.ID, b.CreatedAt, got.Archive, got.Status, gone)
		}
	}
	if got, _ := db.Backup(ctx, other.ID); got.Archive != other.Archive {
		t.Errorf("another source's archive was touched: %+v", got)
	}
	evs, err := db.ListEvents(ctx, lastEvent, 100)
	if err != nil {
		t.Fatal(err)
	}
	var expired []int64
	for _, ev := range evs {
		if ev.Type == domain.EventBackupExpired {
			expired = append(expired, ev.BackupID)
		}
	}
	if !slices.Equal(expired, []int64{s[3].ID, s[2].ID, s[1].ID}) || len(evs) != 3 {
		t.Fatalf("events after expiry: %+v", evs)
	}

	// The metrics count what is left: 4 archives of s, the last one
	// finished the newest; 1 of the other source.
	stats, err := db.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	kept := s[0].SizeBytes + s[4].SizeBytes + s[5].SizeBytes + s[6].SizeBytes
	if st := stats["s"]; st == nil || st.Archives != 4 || st.ArchiveBytes != kept || st.LastSize != s[6].SizeBytes ||
		!st.LastSuccess.Equal(*s[6].FinishedAt) {
		t.Fatalf("stats of s: %+v, want 4 archives of %d bytes, the last of %d bytes finished at %s", st, kept, s[6].SizeBytes, s[6].FinishedAt)
	}
	if st := stats["other"]; st == nil || st.Archives != 1 {
		t.Fatalf("stats of other: %+v", st)
	}

	// Applied again, nothing more goes; with no rules, nothing ever does.
	for _, r := range []domain.Retention{r, {}} {
		if names, err := db.ExpireArchives(ctx, "s", r, time.UTC); err != nil || len(names) != 0 {
			t.Fatalf("%s applied again: %v, %v", r, names, err)
		}
	}
}
