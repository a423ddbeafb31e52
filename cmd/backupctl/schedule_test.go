package main_test

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/backupd/backupd/internal/domain"
	"github.com/backupd/backupd/internal/testdaemon"
)

// Schedules queue backups by themselves, never two of one source at once
// (a tick that finds the last one still running is skipped, and logged),
// and `backupctl sources` says when each runs next and what it keeps.
func TestSchedules(t *testing.T) {
	d := testdaemon.Start(t, testdaemon.Options{Config: `
sources:
  tick:
    kind: command
    command: ["sh", "-c", "sleep 1.5; echo tick"]
    schedule: "@every 1s"
    keep: 2
  nightly:
    kind: command
    command: ["echo", "night"]
    schedule: "30 3 * * *"
    keep_daily: 7
    keep_monthly: 12
`})
	ctx := context.Background()
	before := time.Now()
	out, _ := ctl(t, d, 0, "sources", "-o", "json")
	after := time.Now()
	var sources []domain.SourceInfo
	if err := json.Unmarshal([]byte(out), &sources); err != nil {
		t.Fatalf("sources -o json: %v\n%s", err, out)
	}
	byName := map[string]domain.SourceInfo{}
	for _, s := range sources {
		byName[s.Name] = s
	}
	// The daemon's local zone is the test's: both read TZ the same way.
	night := byName["nightly"]
	if night.NextRun == nil || night.Retention != "keep_daily: 7, keep_monthly: 12" {
		t.Fatalf("nightly: %+v", night)
	}
	if next := night.NextRun.Local(); next.Hour() != 3 || next.Minute() != 30 || !next.After(before) || next.Sub(before) > 24*time.Hour {
		t.Fatalf("nightly next run %s, want the next 03:30 after %s", next, before)
	}
	// @every 1s: the next tick is at most a second after the answer.
	if tick := byName["tick"]; tick.NextRun == nil || tick.NextRun.Before(before) || tick.NextRun.After(after.Add(time.Second)) || tick.Retention != "keep: 2" {
		t.Fatalf("tick: %+v, want a run within a second of %s", tick, after)
	}
	if cat := byName["catalog"]; cat.NextRun != nil || cat.Retention != "keep all" {
		t.Fatalf("catalog, unscheduled: %+v", cat)
	}
	table, _ := ctl(t, d, 0, "sources")
	if !strings.Contains(table, "NEXT") || !strings.Contains(table, night.NextRun.Local().Format("2006-01-02 15:04")) {
		t.Fatalf("sources table without the next run:\n%s", table)
	}

	// Three scheduled backups of tick, each started after the previous one
	// finished, though the schedule ticks every second.
	var done []domain.Backup
	deadline := time.Now().Add(30 * time.Second)
	for len(done) < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("after 30 s of @every 1s, succeeded backups: %+v", done)
		}
		time.Sleep(200 * time.Millisecond)
		list, _, err := d.Client().Backups(ctx, domain.BackupFilter{Source: "tick", Status: domain.StatusSucceeded})
		if err != nil {
			t.Fatal(err)
		}
		done = list
	}
	for i := 0; i+1 < len(done); i++ { // newest first
		if done[i].StartedAt.Before(*done[i+1].FinishedAt) {
			t.Fatalf("backup %d started at %s, before backup %d finished at %s", done[i].ID, done[i].StartedAt, done[i+1].ID, done[i+1].FinishedAt)
		}
	}
	log, err := os.ReadFile(d.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(log), "scheduled backup skipped: the previous one is still active") ||
		!strings.Contains(string(log), "scheduled backup queued") {
		t.Fatalf("daemon log says nothing of skipped ticks:\n%s", log)
	}
}
