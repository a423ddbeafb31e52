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
	// was received. LastSize is that backup's size.
	LastSuccess time.Time
	LastSize    int64
	// Archives counts what this daemon keeps of the source's backups
	// (succeeded, local, not yet expired by retention): tar.zst archives
	// and repository snapshots. ArchiveBytes is the size of the tar.zst
	// archives among them; the repository's is RepoBytes.
	Archives     int64
	ArchiveBytes int64
	// LastAdded is what the newest succeeded backup added to the
	// repository.
	LastAdded int64
}

// Stats returns SourceStats for every source with a succeeded backup, in
// one pass over the succeeded backups.
func (db *DB) Stats(ctx context.Context) (map[string]*SourceStats, error) {
	// Our time layout is fixed-width, so max() of the text is the latest;
	// size_bytes, a bare column beside the one max(), is SQLite's value
	// from that same row.
	rows, err := db.read.QueryContext(ctx, `SELECT source, max(coalesce(finished_at, created_at)), size_bytes, added_bytes,
			count(CASE WHEN origin = 'local' AND archive != '' THEN 1 END),
			coalesce(sum(CASE WHEN origin = 'local' AND archive != '' AND snapshot = '' THEN size_bytes END), 0)
		FROM backups WHERE status = 'succeeded' GROUP BY source`)
	if err != nil {
		return nil, fmt.Errorf("source stats: %w", err)
	}
	defer rows.Close()
	out := map[string]*SourceStats{}
	for rows.Next() {
		var source, at string
		var st SourceStats
		if err := rows.Scan(&source, &at, &st.LastSize, &st.LastAdded, &st.Archives, &st.ArchiveBytes); err != nil {
			return nil, fmt.Errorf("scan source stats: %w", err)
		}
		if st.LastSuccess, err = parseTime(at); err != nil {
			return nil, err
		}
		out[source] = &st
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
		"Bytes of the tar.zst archives this daemon stores per source (made before the repository); "+
			"repository backups share backupd_repository_bytes.",
		[]string{"source"}, nil)
	addedDesc = prometheus.NewDesc("backupd_backup_added_bytes",
		"Bytes the newest succeeded backup of each source added to the repository (compressed, as stored): "+
			"what it did not find there already.",
		[]string{"source"}, nil)
	repoBytesDesc = prometheus.NewDesc("backupd_repository_bytes",
		"Bytes of every pack in the repository, from the catalog's index.",
		nil, nil)
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
	ch <- addedDesc
	ch <- repoBytesDesc
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
		ch <- prometheus.MustNewConstMetric(lastSuccessDesc, prometheus.GaugeValue, float64(s.LastSuccess.UnixNano())/1e9, source)
		ch <- prometheus.MustNewConstMetric(lastSizeDesc, prometheus.GaugeValue, float64(s.LastSize), source)
		ch <- prometheus.MustNewConstMetric(archivesDesc, prometheus.GaugeValue, float64(s.Archives), source)
		ch <- prometheus.MustNewConstMetric(archiveBytesDesc, prometheus.GaugeValue, float64(s.ArchiveBytes), source)
		ch <- prometheus.MustNewConstMetric(addedDesc, prometheus.GaugeValue, float64(s.LastAdded), source)
	}
	n, err := c.DB.RepoBytes(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(repoBytesDesc, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(repoBytesDesc, prometheus.GaugeValue, float64(n))
}
