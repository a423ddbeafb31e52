package catalog

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

var (
	lastSuccessDesc = prometheus.NewDesc("backupd_last_success_timestamp_seconds",
		"When the newest succeeded backup of each source finished (Unix time), local or reported; "+
			"0 for a configured source that never succeeded. Read from the catalog at each scrape, "+
			"so it survives restarts. Alert on time() minus this.",
		[]string{"source"}, nil)
	lastSizeDesc = prometheus.NewDesc("backupd_last_success_size_bytes",
		"Size of the newest succeeded backup of each source (its archive, or as reported); "+
			"absent for a source that never succeeded. A sudden drop against its own past (an empty dump) is worth an alert.",
		[]string{"source"}, nil)
	lastAttemptDesc = prometheus.NewDesc("backupd_last_attempt_timestamp_seconds",
		"When the newest backup of each source that succeeded or failed ended (Unix time); "+
			"0 for a configured source with none. Canceled backups do not count.",
		[]string{"source"}, nil)
	lastAttemptOKDesc = prometheus.NewDesc("backupd_last_attempt_success",
		"1 if the newest backup of each source that ended succeeded, 0 if it failed; "+
			"absent for a source that was never attempted (backupd_last_success_timestamp_seconds is 0 for it).",
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
// the time and size of the last success, the time and outcome of the last
// attempt, and the archives stored. Every source in Sources has a series
// of each, so that an alert on staleness fires for a source that never
// succeeded too; sources known only from the catalog (reported by webhook,
// or configured before) have them once they have a backup that ended.
type Collector struct {
	DB *DB
	// Sources returns the configured source names (a func, so that a
	// config reload is seen at the next scrape); nil: none.
	Sources func() []string
}

// Describe implements prometheus.Collector.
func (c Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{lastSuccessDesc, lastSizeDesc, lastAttemptDesc, lastAttemptOKDesc, archivesDesc, archiveBytesDesc, addedDesc, repoBytesDesc} {
		ch <- d
	}
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
	var names []string
	if c.Sources != nil {
		names = c.Sources()
	}
	for _, name := range names {
		if stats[name] == nil {
			stats[name] = &SourceStats{}
		}
	}
	gauge := func(d *prometheus.Desc, v float64, source string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, source)
	}
	for source, s := range stats {
		gauge(lastSuccessDesc, unixSeconds(s.LastSuccess), source)
		gauge(lastAttemptDesc, unixSeconds(s.LastAttempt), source)
		if !s.LastSuccess.IsZero() {
			gauge(lastSizeDesc, float64(s.LastSize), source)
		}
		if !s.LastAttempt.IsZero() {
			gauge(lastAttemptOKDesc, boolValue(s.LastAttemptOK), source)
		}
		gauge(archivesDesc, float64(s.Archives), source)
		gauge(archiveBytesDesc, float64(s.ArchiveBytes), source)
		gauge(addedDesc, float64(s.LastAdded), source)
	}
	n, err := c.DB.RepoBytes(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(repoBytesDesc, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(repoBytesDesc, prometheus.GaugeValue, float64(n))
}

// unixSeconds is t as Unix time in seconds, 0 for the zero time.
func unixSeconds(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixNano()) / 1e9
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
