package client

import (
	"context"
	"strconv"

	"github.com/backupd/backupd/internal/domain"
)

// Verify asks the server for a restore drill of backup id and returns the
// backup with the drill's outcome (VerifyStatus "passed" or "failed",
// VerifyError saying why). It waits as long as the drill runs.
func (c *Client) Verify(ctx context.Context, id int64) (domain.Backup, error) {
	var b domain.Backup
	return b, c.post(ctx, "/api/v1/backups/"+strconv.FormatInt(id, 10)+"/verify", nil, &b)
}
