package main

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/backupd/backupd/internal/domain"
)

// printJSON writes v as indented JSON, for scripts (-o json).
func (a *app) printJSON(v any) error {
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func (a *app) table() *tabwriter.Writer {
	return tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
}

// printBackups prints a page of list; next is the --before of the next
// page, 0 on the last one.
func (a *app) printBackups(list []domain.Backup, next int64) error {
	if a.output == "json" {
		return a.printJSON(toListJSON(list, next))
	}
	tw := a.table()
	fmt.Fprintln(tw, "ID\tSOURCE\tORIGIN\tSTATUS\tCREATED\tDURATION\tSIZE\tADDED\tSHA256\tERROR")
	for _, b := range list {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", b.ID, b.Source, b.Origin, b.Status,
			b.CreatedAt.Local().Format("2006-01-02 15:04:05"), duration(b), humanBytes(b.SizeBytes), added(b), short(b.SHA256), oneLine(b.Error, maxErrorWidth))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if next > 0 {
		fmt.Fprintf(a.stderr, "older backups: backupctl list --before %d\n", next)
	}
	return nil
}

// added is a repository backup's added bytes for list, "-" for an
// archive made before the repository.
func added(b domain.Backup) string {
	if b.Snapshot == "" {
		return "-"
	}
	return humanBytes(b.AddedBytes)
}

// maxErrorWidth is where list cuts an error short; backupctl status ID
// shows the whole of it.
const maxErrorWidth = 60

// oneLine makes s fit one table cell of at most width characters: line
// breaks and tabs (which would break the table) become spaces, and what is
// too long ends in an ellipsis. "" is "-".
func oneLine(s string, width int) string {
	s = strings.Join(strings.Fields(s), " ")
	if s == "" {
		return "-"
	}
	if r := []rune(s); len(r) > width {
		return strings.TrimRight(string(r[:width-1]), " ") + "…"
	}
	return s
}

func (a *app) printBackup(b domain.Backup) error {
	if a.output == "json" {
		return a.printJSON(toBackupJSON(b))
	}
	tw := a.table()
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(tw, "%s:\t%s\n", k, v)
		}
	}
	row("ID", strconv.FormatInt(b.ID, 10))
	row("Source", b.Source)
	row("Origin", string(b.Origin))
	row("Status", string(b.Status))
	row("Created", b.CreatedAt.Local().Format(time.RFC3339))
	row("Started", fmtTime(b.StartedAt))
	row("Finished", fmtTime(b.FinishedAt))
	row("Duration", duration(b))
	if b.Status == domain.StatusRunning {
		row("Read so far", humanBytes(b.BytesDone))
	}
	if b.SizeBytes > 0 && b.Snapshot == "" {
		row("Size", fmt.Sprintf("%s (%d bytes)", humanBytes(b.SizeBytes), b.SizeBytes))
	}
	if b.Snapshot != "" {
		row("Size", fmt.Sprintf("%s (%d bytes) read from the source", humanBytes(b.LogicalBytes), b.LogicalBytes))
		row("Added", fmt.Sprintf("%s (%d bytes) stored in the repository, the rest deduplicated", humanBytes(b.AddedBytes), b.AddedBytes))
		row("Snapshot", b.Snapshot)
		if b.ExportBytes > 0 {
			row("Export", fmt.Sprintf("%s (%d bytes), what a download sends", humanBytes(b.ExportBytes), b.ExportBytes))
		}
	}
	row("SHA-256", b.SHA256)
	archive := b.Archive
	if archive == "" && b.Status == domain.StatusSucceeded && b.Origin == domain.OriginLocal {
		archive = "removed by the source's retention (keep); the record stays"
	}
	row("Archive", archive)
	row("Error", b.Error)
	row("Message", b.Message)
	row("Verified", fmtTime(b.VerifiedAt))
	row("Verify", b.VerifyStatus)
	row("Verify error", b.VerifyError)
	return tw.Flush()
}

func fmtTime(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.Local().Format(time.RFC3339)
}

func duration(b domain.Backup) string {
	if b.StartedAt == nil {
		return "-"
	}
	end := time.Now()
	if b.FinishedAt != nil {
		end = *b.FinishedAt
	}
	return end.Sub(*b.StartedAt).Round(10 * time.Millisecond).String()
}

func short(sum string) string {
	if len(sum) > 12 {
		return sum[:12]
	}
	if sum == "" {
		return "-"
	}
	return sum
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
