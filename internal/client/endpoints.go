package client

import (
	"context"
	"strconv"

	"github.com/backupd/backupd/internal/webhook"
)

// Endpoints lists the server's outbound webhook endpoints, with whether
// each is disabled.
func (c *Client) Endpoints(ctx context.Context) ([]webhook.EndpointStatus, error) {
	var out struct {
		Endpoints []webhook.EndpointStatus `json:"endpoints"`
	}
	return out.Endpoints, c.get(ctx, "/api/v1/webhooks/endpoints", nil, &out)
}

// EnableEndpoint sends to outbound endpoint id again after a 410 Gone
// disabled it.
func (c *Client) EnableEndpoint(ctx context.Context, id int64) (webhook.EndpointStatus, error) {
	var e webhook.EndpointStatus
	return e, c.post(ctx, "/api/v1/webhooks/endpoints/"+strconv.FormatInt(id, 10)+"/enable", nil, &e)
}
