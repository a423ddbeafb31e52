package catalog

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/backupd/backupd/internal/domain"
)

// Delivery statuses. A delivery is pending until it is delivered (2xx),
// failed (retries exhausted) or canceled (its endpoint answered 410 Gone).
const (
	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed"
	DeliveryCanceled  = "canceled"
)

// Endpoint is an outbound webhook endpoint as the catalog knows it.
type Endpoint struct {
	ID             int64      `json:"id"`
	URL            string     `json:"url"`
	DisabledAt     *time.Time `json:"disabled_at,omitempty"`
	DisabledReason string     `json:"disabled_reason,omitempty"`
}

// NewDelivery is a delivery to queue: one event for one endpoint.
type NewDelivery struct {
	EndpointID int64
	EventID    int64
	EventType  string
	MsgID      string
	Payload    []byte
}

// Delivery is one queued outbound webhook and where it stands.
type Delivery struct {
	ID             int64      `json:"id"`
	EndpointID     int64      `json:"endpoint_id"`
	URL            string     `json:"url"`
	EventID        int64      `json:"event_id"`
	EventType      string     `json:"event_type"`
	MsgID          string     `json:"msg_id"`
	Payload        []byte     `json:"-"`
	Status         string     `json:"status"`
	Attempts       int        `json:"attempts"`
	CreatedAt      time.Time  `json:"created_at"`
	NextAttemptAt  time.Time  `json:"next_attempt_at"`
	LastAttemptAt  *time.Time `json:"last_attempt_at,omitempty"`
	LastStatusCode int        `json:"last_status_code,omitempty"`
	LastError      string     `json:"last_error,omitempty"`
	DeliveredAt    *time.Time `json:"delivered_at,omitempty"`
}

// DeliveryFilter selects deliveries for listing, newest first.
type DeliveryFilter struct {
	Status string
	// Before, when non-zero, keeps deliveries with an id below it (paging).
	Before int64
	Limit  int
}

// Attempt is the outcome of one try at a delivery.
type Attempt struct {
	At         time.Time
	StatusCode int // 0 when no response came back
	Error      string
	Duration   time.Duration
	// Status is the delivery's status after this attempt; when it is
	// pending, NextAttemptAt says when to try again.
	Status        string
	NextAttemptAt time.Time
	// DisableEndpoint is set when the receiver answered 410 Gone: the
	// endpoint is disabled and its other pending deliveries canceled.
	DisableEndpoint string
}

// Endpoints makes sure every URL has an endpoint row and returns them all,
// keyed by URL, with whether each was disabled. With no URLs it only reads.
func (db *DB) Endpoints(ctx context.Context, urls []string) (map[string]Endpoint, error) {
	if len(urls) > 0 {
		if err := db.registerEndpoints(ctx, urls); err != nil {
			return nil, err
		}
	}
	rows, err := db.read.QueryContext(ctx, `SELECT id, url, disabled_at, disabled_reason FROM webhook_endpoints`)
	if err != nil {
		return nil, fmt.Errorf("list endpoints: %w", err)
	}
	defer rows.Close()
	out := map[string]Endpoint{}
	for rows.Next() {
		var e Endpoint
		var disabled sql.NullString
		if err := rows.Scan(&e.ID, &e.URL, &disabled, &e.DisabledReason); err != nil {
			return nil, fmt.Errorf("scan endpoint: %w", err)
		}
		if e.DisabledAt, err = scanTime(disabled); err != nil {
			return nil, fmt.Errorf("endpoint %d: %w", e.ID, err)
		}
		out[e.URL] = e
	}
	return out, rows.Err()
}

// registerEndpoints inserts a row for each URL that has none.
func (db *DB) registerEndpoints(ctx context.Context, urls []string) error {
	err := db.update(ctx, func(tx *sql.Tx) (bool, error) {
		now := formatTime(time.Now())
		for _, u := range urls {
			if _, err := tx.ExecContext(ctx, `INSERT INTO webhook_endpoints (url, created_at) VALUES (?, ?)
				ON CONFLICT (url) DO NOTHING`, u, now); err != nil {
				return false, fmt.Errorf("insert endpoint: %w", err)
			}
		}
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("register endpoints: %w", err)
	}
	return nil
}

// DeliveryCursor returns the id of the last event the dispatcher has read.
func (db *DB) DeliveryCursor(ctx context.Context) (int64, error) {
	var id int64
	if err := db.read.QueryRowContext(ctx, `SELECT event_id FROM webhook_cursor WHERE name = 'outbound'`).Scan(&id); err != nil {
		return 0, fmt.Errorf("read delivery cursor: %w", err)
	}
	return id, nil
}

// QueueDeliveries inserts ds and moves the cursor to cursor in one
// transaction, so that after a crash every event past the cursor is read
// again and every event before it has its deliveries. A delivery already
// queued for the same (endpoint, event) is left as it is, and none is
// queued for a disabled endpoint: the catalog decides, not the caller's
// memory of it, so a 410 recorded a moment ago (RecordAttempt) is never
// followed by a delivery nobody will send.
func (db *DB) QueueDeliveries(ctx context.Context, cursor int64, ds []NewDelivery) error {
	err := db.update(ctx, func(tx *sql.Tx) (bool, error) {
		now := formatTime(time.Now())
		for _, d := range ds {
			if _, err := tx.ExecContext(ctx, `INSERT INTO webhook_deliveries
				(endpoint_id, event_id, event_type, msg_id, payload, created_at, next_attempt_at)
				SELECT ?, ?, ?, ?, ?, ?, ? WHERE EXISTS
					(SELECT 1 FROM webhook_endpoints WHERE id = ? AND disabled_at IS NULL)
				ON CONFLICT (endpoint_id, event_id) DO NOTHING`,
				d.EndpointID, d.EventID, d.EventType, d.MsgID, string(d.Payload), now, now, d.EndpointID); err != nil {
				return false, fmt.Errorf("insert delivery: %w", err)
			}
		}
		// max(): the cursor never moves back, even if two writers race.
		if _, err := tx.ExecContext(ctx, `UPDATE webhook_cursor SET event_id = max(event_id, ?) WHERE name = 'outbound'`,
			cursor); err != nil {
			return false, fmt.Errorf("move cursor: %w", err)
		}
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("queue deliveries: %w", err)
	}
	return nil
}

const deliveryColumns = `d.id, d.endpoint_id, e.url, d.event_id, d.event_type, d.msg_id, d.payload, d.status,
	d.attempts, d.created_at, d.next_attempt_at, d.last_attempt_at, d.last_status_code, d.last_error, d.delivered_at`

func scanDelivery(s scanner) (Delivery, error) {
	var (
		d                        Delivery
		created, next            string
		lastAttempt, deliveredAt sql.NullString
		payload                  string
	)
	if err := s.Scan(&d.ID, &d.EndpointID, &d.URL, &d.EventID, &d.EventType, &d.MsgID, &payload, &d.Status,
		&d.Attempts, &created, &next, &lastAttempt, &d.LastStatusCode, &d.LastError, &deliveredAt); err != nil {
		return d, err
	}
	d.Payload = []byte(payload)
	var err error
	if d.CreatedAt, err = parseTime(created); err != nil {
		return d, err
	}
	if d.NextAttemptAt, err = parseTime(next); err != nil {
		return d, err
	}
	if d.LastAttemptAt, err = scanTime(lastAttempt); err != nil {
		return d, err
	}
	d.DeliveredAt, err = scanTime(deliveredAt)
	return d, err
}

// DueDeliveries returns up to limit pending deliveries to the given
// endpoints whose next attempt is at or before now, oldest first. Disabled
// endpoints are skipped.
func (db *DB) DueDeliveries(ctx context.Context, endpointIDs []int64, now time.Time, limit int) ([]Delivery, error) {
	if len(endpointIDs) == 0 {
		return nil, nil
	}
	where, args := pendingFor(endpointIDs)
	return db.queryDeliveries(ctx, where+` AND d.next_attempt_at <= ? ORDER BY d.next_attempt_at, d.id LIMIT ?`,
		append(args, formatTime(now), limit)...)
}

// NextAttemptAt returns the earliest next attempt of a pending delivery to
// one of the given endpoints, and false if none is pending.
func (db *DB) NextAttemptAt(ctx context.Context, endpointIDs []int64) (time.Time, bool, error) {
	if len(endpointIDs) == 0 {
		return time.Time{}, false, nil
	}
	where, args := pendingFor(endpointIDs)
	var next sql.NullString
	if err := db.read.QueryRowContext(ctx, `SELECT min(d.next_attempt_at) FROM webhook_deliveries d
		JOIN webhook_endpoints e ON e.id = d.endpoint_id `+where, args...).Scan(&next); err != nil {
		return time.Time{}, false, fmt.Errorf("next delivery: %w", err)
	}
	t, err := scanTime(next)
	if err != nil || t == nil {
		return time.Time{}, false, err
	}
	return *t, true, nil
}

// pendingFor selects pending deliveries to enabled endpoints among ids.
func pendingFor(ids []int64) (string, []any) {
	marks := make([]string, len(ids))
	args := make([]any, len(ids))
	for i, id := range ids {
		marks[i], args[i] = "?", id
	}
	return `WHERE d.status = 'pending' AND e.disabled_at IS NULL AND d.endpoint_id IN (` + strings.Join(marks, ",") + `)`, args
}

// ListDeliveries lists deliveries matching f, newest first.
func (db *DB) ListDeliveries(ctx context.Context, f DeliveryFilter) ([]Delivery, error) {
	var where []string
	var args []any
	if f.Status != "" {
		where, args = append(where, "d.status = ?"), append(args, f.Status)
	}
	if f.Before > 0 {
		where, args = append(where, "d.id < ?"), append(args, f.Before)
	}
	q := ""
	if len(where) > 0 {
		q = "WHERE " + strings.Join(where, " AND ")
	}
	limit := f.Limit
	if limit <= 0 || limit > domain.MaxLimit {
		limit = domain.DefaultLimit
	}
	return db.queryDeliveries(ctx, q+` ORDER BY d.id DESC LIMIT ?`, append(args, limit)...)
}

func (db *DB) queryDeliveries(ctx context.Context, rest string, args ...any) ([]Delivery, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+deliveryColumns+` FROM webhook_deliveries d
		JOIN webhook_endpoints e ON e.id = d.endpoint_id `+rest, args...)
	if err != nil {
		return nil, fmt.Errorf("list deliveries: %w", err)
	}
	defer rows.Close()
	out := []Delivery{}
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, fmt.Errorf("scan delivery: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// RecordAttempt stores the outcome of one attempt at delivery id and the
// delivery's new state, in one transaction. When a.DisableEndpoint is set,
// the endpoint is disabled with that reason and its other pending
// deliveries are canceled in the same transaction.
func (db *DB) RecordAttempt(ctx context.Context, id int64, a Attempt) error {
	err := db.update(ctx, func(tx *sql.Tx) (bool, error) {
		at := formatTime(a.At)
		if _, err := tx.ExecContext(ctx, `INSERT INTO webhook_attempts (delivery_id, at, status_code, error, duration_ms)
			VALUES (?, ?, ?, ?, ?)`, id, at, a.StatusCode, a.Error, a.Duration.Milliseconds()); err != nil {
			return false, fmt.Errorf("insert attempt: %w", err)
		}
		var delivered any
		if a.Status == DeliveryDelivered {
			delivered = at
		}
		next := a.NextAttemptAt
		if next.IsZero() {
			next = a.At
		}
		var endpoint int64
		if err := tx.QueryRowContext(ctx, `UPDATE webhook_deliveries SET status = ?, attempts = attempts + 1,
			next_attempt_at = ?, last_attempt_at = ?, last_status_code = ?, last_error = ?, delivered_at = ?
			WHERE id = ? RETURNING endpoint_id`, a.Status, formatTime(next), at, a.StatusCode, a.Error, delivered, id,
		).Scan(&endpoint); err != nil {
			return false, fmt.Errorf("update delivery %d: %w", id, err)
		}
		if a.DisableEndpoint == "" {
			return false, nil
		}
		return false, disableEndpoint(ctx, tx, endpoint, at, a.DisableEndpoint)
	})
	if err != nil {
		return fmt.Errorf("record attempt: %w", err)
	}
	return nil
}

// EnableEndpoint clears the disabled mark a 410 Gone left on an endpoint
// and returns the endpoint. Deliveries canceled then stay canceled; events
// from now on are delivered again. ENOTFOUND if there is no such endpoint.
func (db *DB) EnableEndpoint(ctx context.Context, id int64) (Endpoint, error) {
	err := db.update(ctx, func(tx *sql.Tx) (bool, error) {
		res, err := tx.ExecContext(ctx, `UPDATE webhook_endpoints SET disabled_at = NULL, disabled_reason = '' WHERE id = ?`, id)
		if err != nil {
			return false, fmt.Errorf("enable endpoint %d: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return false, domain.Errorf(domain.ENOTFOUND, "no outbound endpoint %d", id)
		}
		return false, nil
	})
	if err != nil {
		return Endpoint{}, err
	}
	e := Endpoint{ID: id}
	if err := db.read.QueryRowContext(ctx, `SELECT url FROM webhook_endpoints WHERE id = ?`, id).Scan(&e.URL); err != nil {
		return Endpoint{}, fmt.Errorf("read endpoint %d: %w", id, err)
	}
	return e, nil
}

func disableEndpoint(ctx context.Context, tx *sql.Tx, endpoint int64, at, reason string) error {
	if _, err := tx.ExecContext(ctx, `UPDATE webhook_endpoints SET disabled_at = ?, disabled_reason = ?
		WHERE id = ? AND disabled_at IS NULL`, at, reason, endpoint); err != nil {
		return fmt.Errorf("disable endpoint %d: %w", endpoint, err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE webhook_deliveries SET status = 'canceled', last_error = ?
		WHERE endpoint_id = ? AND status = 'pending'`, "endpoint disabled: "+reason, endpoint); err != nil {
		return fmt.Errorf("cancel deliveries of endpoint %d: %w", endpoint, err)
	}
	return nil
}
