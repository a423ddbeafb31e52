package catalog

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// SourceStats is what the catalog knows of one source, for metrics.
type SourceStats struct {
	// LastSuccess is when the newest succeeded backup (run here or
	// reported by webhook) finished, or for a report without finished_at,
	// was received; zero if there is none. LastSize is that backup's size.
	LastSuccess time.Time
	LastSize    int64
	// Archives and ArchiveBytes count the archives this daemon stores
	// (succeeded, local, not yet expired by retention).
	Archives     int64
	ArchiveBytes int64
}

// Stats returns SourceStats for every source with a succeeded backup.
func (db *DB) Stats(ctx context.Context) (map[string]*SourceStats, error) {
	out := map[string]*SourceStats{}
	of := func(source string) *SourceStats {
		if out[source] == nil {
			out[source] = &SourceStats{}
		}
		return out[source]
	}
	// Our time layout is fixed-width, so max() of the text is the latest;
	// size_bytes, a bare column beside max(), is SQLite's value from that
	// same row.
	rows, err := db.read.QueryContext(ctx, `SELECT source, max(coalesce(finished_at, created_at)), coalesce(size_bytes, 0)
		FROM backups WHERE status = 'succeeded' GROUP BY source`)
	if err != nil {
		return nil, fmt.Errorf("last successes: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var source, at string
		var size int64
		if err := rows.Scan(&source, &at, &size); err != nil {
			return nil, fmt.Errorf("scan last success: %w", err)
		}
		t, err := parseTime(at)
		if err != nil {
			return nil, err
		}
		s := of(source)
		s.LastSuccess, s.LastSize = t, size
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows, err = db.read.QueryContext(ctx, `SELECT source, count(*), coalesce(sum(size_bytes), 0) FROM backups
		WHERE origin = 'local' AND status = 'succeeded' AND archive != '' GROUP BY source`)
	if err != nil {
		return nil, fmt.Errorf("stored archives: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var source string
		var n, bytes int64
		if err := rows.Scan(&source, &n, &bytes); err != nil {
			return nil, fmt.Errorf("scan stored archives: %w", err)
		}
		s := of(source)
		s.Archives, s.ArchiveBytes = n, bytes
	}
	return out, rows.Err()
}

var (
	lastSuccessDesc = prometheus.NewDesc("backupd_last_success_timestamp_seconds",
		"When the newest succeeded backup of each source finished (Unix time), local or reported; "+
			"read from the catalog at each scrape, so it survives restarts. Alert on time() minus this.",
		[]string{"source"}, nil)
	lastSizeDesc = prometheus.NewDesc("backupd_last_success_size_bytes",
		"Size of the newest succeeded backup of each source (its archive, or as reported). "+
			"A sudden drop against its own past (an empty dump) is worth an alert.",
		[]string{"source"}, nil)
	archivesDesc = prometheus.NewDesc("backupd_archives",
		"Archives this daemon stores per source (succeeded, not expired by retention).",
		[]string{"source"}, nil)
	archiveBytesDesc = prometheus.NewDesc("backupd_archive_bytes",
		"Bytes of the archives this daemon stores per source.",
		[]string{"source"}, nil)
)

// Collector exports what the catalog knows at scrape time, per source:
// the time and size of the last success, and the archives stored.
type Collector struct{ DB *DB }

// Describe implements prometheus.Collector.
func (c Collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- lastSuccessDesc
	ch <- lastSizeDesc
	ch <- archivesDesc
	ch <- archiveBytesDesc
}

// Collect implements prometheus.Collector.
func (c Collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	stats, err := c.DB.Stats(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(lastSuccessDesc, err)
		return
	}
	for source, s := range stats {
		if !s.LastSuccess.IsZero() {
			ch <- prometheus.MustNewConstMetric(lastSuccessDesc, prometheus.GaugeValue, float64(s.LastSuccess.UnixNano())/1e9, source)
			ch <- prometheus.MustNewConstMetric(lastSizeDesc, prometheus.GaugeValue, float64(s.LastSize), source)
		}
		ch <- prometheus.MustNewConstMetric(archivesDesc, prometheus.GaugeValue, float64(s.Archives), source)
		ch <- prometheus.MustNewConstMetric(archiveBytesDesc, prometheus.GaugeValue, float64(s.ArchiveBytes), source)
	}
}
