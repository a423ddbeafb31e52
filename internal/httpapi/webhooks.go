package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/backupd/backupd/internal/catalog"
	"github.com/backupd/backupd/internal/domain"
)

// WebhookReceiver checks, parses and durably stores one signed inbound
// report (webhook.Receiver). It returns only after the commit.
type WebhookReceiver interface {
	Receive(r *http.Request) (catalog.ReportResult, error)
}

// DeliveryLister lists outbound webhook deliveries (catalog.DB).
type DeliveryLister interface {
	ListDeliveries(ctx context.Context, f catalog.DeliveryFilter) ([]catalog.Delivery, error)
}

type webhookHandlers struct {
	recv       WebhookReceiver
	deliveries DeliveryLister
	log        *slog.Logger
}

// WebhookRoutes returns the Config.Extra that registers the webhook routes:
// POST /webhooks/backup on the open router (senders prove themselves with a
// signature, not a bearer token) and GET /webhooks/deliveries behind the
// token. Either dependency may be nil to leave its route out.
func WebhookRoutes(recv WebhookReceiver, deliveries DeliveryLister, log *slog.Logger) func(open, authed chi.Router) {
	if log == nil {
		log = slog.Default()
	}
	h := &webhookHandlers{recv: recv, deliveries: deliveries, log: log.With("component", "http")}
	return func(open, authed chi.Router) {
		if recv != nil {
			open.Post("/webhooks/backup", h.handleWebhookReceive)
		}
		if deliveries != nil {
			authed.Get("/webhooks/deliveries", h.handleDeliveryList)
		}
	}
}

// handleWebhookReceive stores a report and answers 200 with the record,
// without its raw body (the sender has it). A redelivery (same webhook-id)
// gets the same 200 and the record stored the first time.
func (h *webhookHandlers) handleWebhookReceive(w http.ResponseWriter, r *http.Request) {
	res, err := h.recv.Receive(r)
	if err != nil {
		WriteError(w, r, h.log, err)
		return
	}
	b := res.Backup
	b.Raw = nil
	w.Header().Set("Location", "/api/v1/backups/"+strconv.FormatInt(b.ID, 10))
	WriteJSON(w, http.StatusOK, b)
}

// handleDeliveryList pages outbound deliveries newest first, optionally by
// status; the next page is before=<next_before>.
func (h *webhookHandlers) handleDeliveryList(w http.ResponseWriter, r *http.Request) {
	f := catalog.DeliveryFilter{Status: r.URL.Query().Get("status")}
	switch f.Status {
	case "", catalog.DeliveryPending, catalog.DeliveryDelivered, catalog.DeliveryFailed, catalog.DeliveryCanceled:
	default:
		WriteError(w, r, h.log, domain.Errorf(domain.EINVALID, "status %q is not one of pending, delivered, failed, canceled", f.Status))
		return
	}
	limit, err := queryInt(r, "limit", domain.DefaultLimit, domain.MaxLimit)
	if err == nil {
		f.Before, err = queryInt(r, "before", 0, 0)
	}
	if err != nil {
		WriteError(w, r, h.log, err)
		return
	}
	f.Limit = int(limit)
	list, err := h.deliveries.ListDeliveries(r.Context(), f)
	if err != nil {
		WriteError(w, r, h.log, err)
		return
	}
	resp := map[string]any{"deliveries": list}
	if len(list) == f.Limit && f.Limit > 0 {
		resp["next_before"] = list[len(list)-1].ID
	}
	WriteJSON(w, http.StatusOK, resp)
}
