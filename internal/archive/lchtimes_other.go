//go:build !unix

package archive

import (
	"os"
	"time"
)

// lchtimes is a no-op where symlink times cannot be set portably.
func lchtimes(*os.Root, string, time.Time) error { return nil }
