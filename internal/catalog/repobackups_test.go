package catalog_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/backupd/backupd/internal/domain"
	"github.com/backupd/backupd/internal/repo"
)

// A repository backup records its snapshot and byte counts; its export's
// digest and size come later, and retention hands back the snapshot to
// forget. Archives beside it keep their meaning.
func TestRepositoryBackupRecord(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	b, err := db.CreateBackup(ctx, "docs", "files")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.StartBackup(ctx, b.ID, "docs-1.tar.zst"); err != nil {
		t.Fatal(err)
	}
	snap := "ab01"
	b, err = db.FinishBackup(ctx, b.ID, domain.Finish{Status: domain.StatusSucceeded, SizeBytes: 1000,
		Snapshot: snap, LogicalBytes: 1000, AddedBytes: 300})
	if err != nil {
		t.Fatal(err)
	}
	if b.Snapshot != snap || b.LogicalBytes != 1000 || b.AddedBytes != 300 || b.SHA256 != "" || b.DownloadSize() != 0 {
		t.Fatalf("finished: %+v", b)
	}
	if err := db.SetExport(ctx, b.ID, "cafe", 420); err != nil {
		t.Fatal(err)
	}
	if b, _ = db.Backup(ctx, b.ID); b.SHA256 != "cafe" || b.ExportBytes != 420 || b.DownloadSize() != 420 || b.SizeBytes != 1000 {
		t.Fatalf("after export: %+v", b)
	}
	evs, _ := db.ListEvents(ctx, 0, 100)
	var data map[string]any
	json.Unmarshal(evs[len(evs)-1].Data, &data)
	if data["snapshot"] != snap || data["added_bytes"] != 300.0 || data["logical_bytes"] != 1000.0 {
		t.Fatalf("the succeeded event does not carry the repository fields: %s", evs[len(evs)-1].Data)
	}

	old, _ := db.CreateBackup(ctx, "docs", "files")
	db.StartBackup(ctx, old.ID, "docs-2.tar.zst")
	old, _ = db.FinishBackup(ctx, old.ID, domain.Finish{Status: domain.StatusSucceeded, SizeBytes: 77, SHA256: "beef"})
	if err := db.SetExport(ctx, old.ID, "x", 1); domain.ErrorCode(err) != domain.ENOTFOUND {
		t.Fatalf("SetExport on an archive: %v", err)
	}
	stats, _ := db.Stats(ctx)
	if st := stats["docs"]; st.Archives != 2 || st.ArchiveBytes != 77 {
		t.Fatalf("stats: %+v, want 2 kept, 77 bytes of archives", st)
	}

	exp, err := db.ExpireArchives(ctx, "docs", domain.Retention{Last: 1}, time.UTC)
	if err != nil || len(exp) != 1 || exp[0].ID != b.ID || exp[0].Snapshot != snap || exp[0].Archive != "docs-1.tar.zst" {
		t.Fatalf("expired %+v, %v; want backup %d with its snapshot", exp, err, b.ID)
	}
}

// The repository parameters are kept once and never replaced; the
// repository's size is the packs' sum; repo.pruned is an event of its own.
func TestRepositoryParamsAndSize(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	if _, err := db.RepoParams(ctx); domain.ErrorCode(err) != domain.ENOTFOUND {
		t.Fatalf("params of a new catalog: %v", err)
	}
	if err := db.SaveRepoParams(ctx, []byte(`{"a":1}`)); err != nil {
		t.Fatal(err)
	}
	if err := db.SaveRepoParams(ctx, []byte(`{"a":2}`)); domain.ErrorCode(err) != domain.ECONFLICT {
		t.Fatalf("second save: %v", err)
	}
	if p, err := db.RepoParams(ctx); err != nil || string(p) != `{"a":1}` {
		t.Fatalf("params = %s, %v", p, err)
	}
	idx := db.RepoIndex()
	for i, size := range []int64{100, 250} {
		if err := idx.AddPack(ctx, repo.PackRecord{ID: repo.ID{byte(i + 1)}, Size: size, Blobs: 0, Created: time.Now()}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := db.RepoBytes(ctx); err != nil || n != 350 {
		t.Fatalf("RepoBytes = %d, %v", n, err)
	}
	ev, err := db.AppendEvent(ctx, domain.EventRepoPruned, []byte(`{"packs_deleted":2}`))
	if err != nil {
		t.Fatal(err)
	}
	evs, _ := db.ListEvents(ctx, ev.ID-1, 10)
	if len(evs) != 1 || evs[0].Type != domain.EventRepoPruned || evs[0].BackupID != 0 || string(evs[0].Data) != `{"packs_deleted":2}` {
		t.Fatalf("events = %+v", evs)
	}
}
