package webhook

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Metrics are package-level: there is one intake and one dispatcher per
// process, and promauto registers them with the default registry, which
// httpapi serves at /metrics.
var (
	receivedTotal = promauto.NewCounter(prometheus.CounterOpts{
		Name: "backupd_webhooks_received_total",
		Help: "Inbound webhook reports accepted (stored, or acknowledged again as a redelivery).",
	})
	rejectedTotal = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "backupd_webhooks_rejected_total",
		Help: "Inbound webhook requests refused, by reason.",
	}, []string{"reason"})
	outboundAttemptsTotal = promauto.NewCounter(prometheus.CounterOpts{
		Name: "backupd_outbound_attempts_total",
		Help: "Outbound webhook delivery attempts.",
	})
	outboundFailuresTotal = promauto.NewCounter(prometheus.CounterOpts{
		Name: "backupd_outbound_failures_total",
		Help: "Outbound webhook delivery attempts that did not get a 2xx answer.",
	})
)

// Rejection reasons, the values of the reason label.
const (
	reasonMissingHeader = "missing_header"
	reasonBadHeader     = "bad_header"
	reasonTooOld        = "timestamp_too_old"
	reasonTooNew        = "timestamp_too_new"
	reasonNoMatch       = "bad_signature"
	reasonTooLarge      = "too_large"
	reasonMalformed     = "malformed"
	reasonUnavailable   = "unavailable"
	reasonInternal      = "internal"
)
