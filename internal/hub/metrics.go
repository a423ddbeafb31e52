package hub

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// The hub's metrics, registered once with the default registry.
var (
	wsClients = promauto.NewGauge(prometheus.GaugeOpts{
		Name: "backupd_ws_clients",
		Help: "WebSocket clients connected now.",
	})
	wsSlowDisconnects = promauto.NewCounter(prometheus.CounterOpts{
		Name: "backupd_ws_slow_disconnects_total",
		Help: "WebSocket clients closed as slow consumers (close code 4002): queue full in messages or bytes, or replay blocked while its memory was needed.",
	})
	eventsEmitted = promauto.NewCounter(prometheus.CounterOpts{
		Name: "backupd_events_emitted_total",
		Help: "Stored events published to WebSocket clients, each counted once.",
	})
	wsMessagesSent = promauto.NewCounter(prometheus.CounterOpts{
		Name: "backupd_ws_messages_sent_total",
		Help: "WebSocket data messages written to clients, replayed ones included.",
	})
)
