// Package client is the Go client of backupd's REST API, shared by backupctl
// and the tests.
package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/backupd/backupd/internal/domain"
)

// Client talks to one backupd server.
type Client struct {
	base  *url.URL
	token string
	tls   *tls.Config // nil: Go's defaults, the system's roots
	http  *http.Client
}

// New returns a client of the server at baseURL (e.g. http://127.0.0.1:8080).
func New(baseURL, token string, opts ...Option) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("server URL %q must look like http://host:port", baseURL)
	}
	c := &Client{base: u, token: token}
	for _, o := range opts {
		o(c)
	}
	c.http = &http.Client{Transport: c.transport()}
	return c, nil
}

// BaseURL returns the server's base URL.
func (c *Client) BaseURL() string { return c.base.String() }

// Token returns the bearer token the client sends.
func (c *Client) Token() string { return c.token }

// APIError is a problem+json answer from the server.
type APIError struct {
	Status int    `json:"status"`
	Code   string `json:"code"`
	Detail string `json:"detail"`
	// BackupID is set on conflicts caused by an active backup.
	BackupID int64 `json:"backup_id,omitempty"`
}

func (e *APIError) Error() string {
	if e.Detail == "" {
		return fmt.Sprintf("server answered %d %s", e.Status, http.StatusText(e.Status))
	}
	return e.Detail
}

// IsUnauthorized reports whether err is the server refusing our token:
// not valid (401), or without the scope the request needs (403).
func IsUnauthorized(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && (ae.Status == http.StatusUnauthorized || ae.Status == http.StatusForbidden)
}

func (c *Client) newRequest(ctx context.Context, method, path string, query url.Values, body any) (*http.Request, error) {
	u := *c.base
	u.Path += path
	u.RawQuery = query.Encode()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encode request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	return req, nil
}

// do sends req; a 2xx answer is decoded into out (if non-nil), anything
// else is returned as an *APIError.
func (c *Client) do(req *http.Request, out any) (*http.Response, error) {
	resp, err := c.http.Do(req)
	if err != nil {
		if req.Context().Err() != nil {
			return nil, req.Context().Err()
		}
		return nil, c.unreachable(err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		defer resp.Body.Close()
		return resp, decodeProblem(resp)
	}
	if out == nil {
		return resp, nil
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return resp, fmt.Errorf("the answer from %s is not what backupd sends (is that a backupd of this version?): %w", c.base, err)
	}
	return resp, nil
}

func decodeProblem(resp *http.Response) error {
	e := &APIError{Status: resp.StatusCode}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err := json.Unmarshal(body, e); err != nil || e.Detail == "" {
		e.Detail = strings.TrimSpace(string(body))
		if len(e.Detail) > 200 || e.Detail == "" {
			e.Detail = fmt.Sprintf("server answered %d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
		}
	}
	e.Status = resp.StatusCode
	return e
}

func (c *Client) get(ctx context.Context, path string, q url.Values, out any) error {
	req, err := c.newRequest(ctx, http.MethodGet, path, q, nil)
	if err != nil {
		return err
	}
	_, err = c.do(req, out)
	return err
}

func (c *Client) post(ctx context.Context, path string, body, out any) error {
	req, err := c.newRequest(ctx, http.MethodPost, path, nil, body)
	if err != nil {
		return err
	}
	_, err = c.do(req, out)
	return err
}

// Health is the daemon's answer to GET /healthz when it is healthy.
type Health struct {
	Status  string            `json:"status"`
	Version string            `json:"version"`
	Checks  map[string]string `json:"checks"` // name -> "ok"
}

// Health asks the daemon whether it can take and store backups now. An
// unhealthy daemon answers 503: an *APIError naming what failed.
func (c *Client) Health(ctx context.Context) (Health, error) {
	var h Health
	return h, c.get(ctx, "/healthz", nil, &h)
}

// Sources lists the configured sources.
func (c *Client) Sources(ctx context.Context) ([]domain.SourceInfo, error) {
	var out []domain.SourceInfo
	return out, c.get(ctx, "/api/v1/sources", nil, &out)
}

// CreateBackup queues a backup of source.
func (c *Client) CreateBackup(ctx context.Context, source string) (domain.Backup, error) {
	var b domain.Backup
	return b, c.post(ctx, "/api/v1/backups", map[string]string{"source": source}, &b)
}

// Backup returns one backup.
func (c *Client) Backup(ctx context.Context, id int64) (domain.Backup, error) {
	var b domain.Backup
	return b, c.get(ctx, "/api/v1/backups/"+strconv.FormatInt(id, 10), nil, &b)
}

// Cancel cancels a queued or running backup.
func (c *Client) Cancel(ctx context.Context, id int64) (domain.Backup, error) {
	var b domain.Backup
	return b, c.post(ctx, "/api/v1/backups/"+strconv.FormatInt(id, 10)+"/cancel", nil, &b)
}

// Backups lists backups newest first; nextBefore is the cursor of the next
// page, 0 when this page is the last.
func (c *Client) Backups(ctx context.Context, f domain.BackupFilter) (list []domain.Backup, nextBefore int64, err error) {
	q := url.Values{}
	if f.Source != "" {
		q.Set("source", f.Source)
	}
	if f.Status != "" {
		q.Set("status", string(f.Status))
	}
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	if f.Before > 0 {
		q.Set("before", strconv.FormatInt(f.Before, 10))
	}
	var out struct {
		Backups    []domain.Backup `json:"backups"`
		NextBefore int64           `json:"next_before"`
	}
	err = c.get(ctx, "/api/v1/backups", q, &out)
	return out.Backups, out.NextBefore, err
}

// Events pages the events outbox after since.
func (c *Client) Events(ctx context.Context, since int64, limit int) ([]domain.Event, error) {
	q := url.Values{"since": {strconv.FormatInt(since, 10)}}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var out struct {
		Events []domain.Event `json:"events"`
	}
	return out.Events, c.get(ctx, "/api/v1/events", q, &out)
}
