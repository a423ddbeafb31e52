-- Outbound webhooks. Endpoints come from the config and are matched to rows
-- here by URL; the row only remembers what the config cannot: that the
-- receiver answered 410 Gone and must not be called again. Secrets stay in
-- the config and are never stored.
CREATE TABLE webhook_endpoints (
    id              INTEGER PRIMARY KEY,
    url             TEXT    NOT NULL UNIQUE,
    created_at      TEXT    NOT NULL,
    disabled_at     TEXT,
    disabled_reason TEXT    NOT NULL DEFAULT ''
);

-- One row per (endpoint, event) to deliver. msg_id is the webhook-id header:
-- fixed when the row is queued, so every retry carries the same id and the
-- receiver can drop duplicates. The payload is fixed then too.
CREATE TABLE webhook_deliveries (
    id               INTEGER PRIMARY KEY,
    endpoint_id      INTEGER NOT NULL REFERENCES webhook_endpoints (id),
    event_id         INTEGER NOT NULL,
    event_type       TEXT    NOT NULL,
    msg_id           TEXT    NOT NULL UNIQUE,
    payload          TEXT    NOT NULL,
    status           TEXT    NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'delivered', 'failed', 'canceled')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    created_at       TEXT    NOT NULL,
    next_attempt_at  TEXT    NOT NULL,
    last_attempt_at  TEXT,
    last_status_code INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT    NOT NULL DEFAULT '',
    delivered_at     TEXT,
    UNIQUE (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);

-- Every attempt at a delivery and what came of it.
CREATE TABLE webhook_attempts (
    id          INTEGER PRIMARY KEY,
    delivery_id INTEGER NOT NULL REFERENCES webhook_deliveries (id),
    at          TEXT    NOT NULL,
    status_code INTEGER NOT NULL DEFAULT 0,
    error       TEXT    NOT NULL DEFAULT '',
    duration_ms INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, id);

-- How far the outbound dispatcher has read the events table. It starts at
-- the newest event when this migration runs: endpoints are told about what
-- happens from now on, not about the catalog's whole past.
CREATE TABLE webhook_cursor (
    name     TEXT PRIMARY KEY,
    event_id INTEGER NOT NULL
);
INSERT INTO webhook_cursor (name, event_id) SELECT 'outbound', coalesce(max(id), 0) FROM events;
