package storage

import (
	"os"

	"golang.org/x/sys/unix"
)

// startWriteback asks the kernel to begin writing [off, off+n) to disk now,
// without waiting. The fsync at Commit is still what makes the archive
// durable; this only means it finds little left to do, instead of stalling
// on the whole archive's dirty pages at the end of a backup.
func startWriteback(f *os.File, off, n int64) {
	_ = unix.SyncFileRange(int(f.Fd()), off, n, unix.SYNC_FILE_RANGE_WRITE)
}
