package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/backupd/backupd/internal/catalog"
	"github.com/backupd/backupd/internal/domain"
	"github.com/backupd/backupd/internal/webhook"
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

// EndpointAdmin lists the outbound endpoints and enables one again after a
// 410 Gone disabled it (webhook.Dispatcher).
type EndpointAdmin interface {
	Endpoints(ctx context.Context) ([]webhook.EndpointStatus, error)
	Enable(ctx context.Context, id int64) (webhook.EndpointStatus, error)
}

type webhookHandlers struct {
	recv       WebhookReceiver
	deliveries DeliveryLister
	endpoints  EndpointAdmin
	log        *slog.Logger
}

// WebhookRoutes returns the Config.Extra that registers the webhook routes:
// POST /webhooks/backup on the open router (senders prove themselves with a
// signature, not a bearer token); GET /webhooks/deliveries,
// GET /webhooks/endpoints and POST /webhooks/endpoints/{id}/enable behind
// a token with the admin scope (they show where events go). Any
// dependency may be nil to leave its routes out.
func WebhookRoutes(recv WebhookReceiver, deliveries DeliveryLister, endpoints EndpointAdmin, log *slog.Logger) func(open chi.Router, scoped func(string) chi.Router) {
	if log == nil {
		log = slog.Default()
	}
	h := &webhookHandlers{recv: recv, deliveries: deliveries, endpoints: endpoints, log: log.With("component", "http")}
	return func(open chi.Router, scoped func(string) chi.Router) {
		authed := scoped(domain.ScopeAdmin)
		if recv != nil {
			open.Post("/webhooks/backup", h.handleWebhookReceive)
		}
		if deliveries != nil {
			authed.Get("/webhooks/deliveries", h.handleDeliveryList)
		}
		if endpoints != nil {
			authed.Get("/webhooks/endpoints", h.handleEndpointList)
			authed.Post("/webhooks/endpoints/{id}/enable", h.handleEndpointEnable)
		}
	}
}

// handleEndpointList lists the configured outbound endpoints with whether
// each is disabled (and why).
func (h *webhookHandlers) handleEndpointList(w http.ResponseWriter, r *http.Request) {
	list, err := h.endpoints.Endpoints(r.Context())
	if err != nil {
		WriteError(w, r, h.log, err)
		return
	}
	WriteJSON(w, http.StatusOK, map[string]any{"endpoints": list})
}

// handleEndpointEnable enables an endpoint that a 410 Gone disabled and
// answers with it; enabling one that is not disabled changes nothing.
func (h *webhookHandlers) handleEndpointEnable(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		WriteError(w, r, h.log, err)
		return
	}
	e, err := h.endpoints.Enable(r.Context(), id)
	if err != nil {
		WriteError(w, r, h.log, err)
		return
	}
	WriteJSON(w, http.StatusOK, e)
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
