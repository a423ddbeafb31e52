package hub

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// tlsByWorkers: sendRoom can tell, so workers may write TLS connections.
const tlsByWorkers = true

// sendRoom estimates how many more bytes the socket behind rc takes
// without a write waiting: its send buffer less what is queued in it.
// The buffer is accounted in the kernel with each segment's overhead,
// which SIOCOUTQ (payload bytes) leaves out; counting the queued bytes
// twice covers it even for small segments. -1 if it cannot tell.
func sendRoom(rc syscall.RawConn) int {
	room := -1
	_ = rc.Control(func(fd uintptr) {
		sndbuf, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF)
		if err != nil {
			return
		}
		queued, err := unix.IoctlGetInt(int(fd), unix.SIOCOUTQ)
		if err != nil {
			return
		}
		room = sndbuf - 2*queued
	})
	return room
}
