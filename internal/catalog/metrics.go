package catalog

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// LastSuccess returns, for each source with a succeeded backup (run here
// or reported by webhook), when the newest of them finished (or, for a
// report without finished_at, was received).
func (db *DB) LastSuccess(ctx context.Context) (map[string]time.Time, error) {
	// Our time layout is fixed-width, so max() of the text is the latest.
	rows, err := db.read.QueryContext(ctx, `SELECT source, max(coalesce(finished_at, created_at))
		FROM backups WHERE status = 'succeeded' GROUP BY source`)
	if err != nil {
		return nil, fmt.Errorf("last successes: %w", err)
	}
	defer rows.Close()
	out := map[string]time.Time{}
	for rows.Next() {
		var source, at string
		if err := rows.Scan(&source, &at); err != nil {
			return nil, fmt.Errorf("scan last success: %w", err)
		}
		t, err := parseTime(at)
		if err != nil {
			return nil, err
		}
		out[source] = t
	}
	return out, rows.Err()
}

var lastSuccessDesc = prometheus.NewDesc("backupd_last_success_timestamp_seconds",
	"When the newest succeeded backup of each source finished (Unix time), local or reported; "+
		"read from the catalog at each scrape, so it survives restarts. Alert on time() minus this.",
	[]string{"source"}, nil)

// Collector exports what the catalog knows at scrape time:
// backupd_last_success_timestamp_seconds per source.
type Collector struct{ DB *DB }

// Describe implements prometheus.Collector.
func (c Collector) Describe(ch chan<- *prometheus.Desc) { ch <- lastSuccessDesc }

// Collect implements prometheus.Collector.
func (c Collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	last, err := c.DB.LastSuccess(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(lastSuccessDesc, err)
		return
	}
	for source, t := range last {
		ch <- prometheus.MustNewConstMetric(lastSuccessDesc, prometheus.GaugeValue, float64(t.UnixNano())/1e9, source)
	}
}
