package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/backupd/backupd/internal/domain"
)

// Tree lists the entries directly inside dir ("" for the root) of a
// repository backup's snapshot.
func (c *Client) Tree(ctx context.Context, id int64, dir string) ([]domain.TreeEntry, error) {
	var out struct {
		Entries []domain.TreeEntry `json:"entries"`
	}
	q := url.Values{}
	if dir != "" {
		q.Set("path", dir)
	}
	err := c.get(ctx, "/api/v1/backups/"+strconv.FormatInt(id, 10)+"/tree", q, &out)
	return out.Entries, err
}

// Prune runs a prune of the server's repository now.
func (c *Client) Prune(ctx context.Context) (domain.PruneResult, error) {
	var res domain.PruneResult
	return res, c.post(ctx, "/api/v1/repository/prune", nil, &res)
}

// Check checks the server's repository; readData reads every blob too.
func (c *Client) Check(ctx context.Context, readData bool) (domain.CheckResult, error) {
	var res domain.CheckResult
	q := url.Values{}
	if readData {
		q.Set("read_data", "true")
	}
	req, err := c.newRequest(ctx, http.MethodPost, "/api/v1/repository/check", q, nil)
	if err != nil {
		return res, err
	}
	_, err = c.do(req, &res)
	return res, err
}
