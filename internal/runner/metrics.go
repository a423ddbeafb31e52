package runner

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

var (
	backupDuration = promauto.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "backupd_backup_duration_seconds",
		Help:    "How long backups ran, from start to their final status.",
		Buckets: prometheus.ExponentialBuckets(0.1, 4, 10), // 0.1 s to ~7 h
	}, []string{"source", "status"})
	backupSize = promauto.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "backupd_backup_size_bytes",
		Help:    "Size of the archives of succeeded backups.",
		Buckets: prometheus.ExponentialBuckets(1<<10, 4, 14), // 1 KiB to ~64 TiB
	}, []string{"source"})
	backupsRunning = promauto.NewGauge(prometheus.GaugeOpts{
		Name: "backupd_backups_running",
		Help: "Backups running now.",
	})
)
