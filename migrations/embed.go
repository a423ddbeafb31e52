// Package migrations embeds the catalog's schema as numbered SQL files.
// Each file is applied once, in its own transaction, in name order.
package migrations

import "embed"

// FS holds the *.sql files.
//
//go:embed *.sql
var FS embed.FS
