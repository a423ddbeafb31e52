//go:build !linux

package storage

import "os"

// startWriteback does nothing where sync_file_range(2) does not exist; the
// fsync at Commit does all the work.
func startWriteback(*os.File, int64, int64) {}

// dropWritten does nothing there either: the archive stays in the page
// cache until the kernel needs the memory.
func dropWritten(*os.File, int64, int64) {}
