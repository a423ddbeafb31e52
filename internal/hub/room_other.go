//go:build !linux

package hub

import "syscall"

// tlsByWorkers: sendRoom cannot tell here, so TLS clients are written by
// their pumps.
const tlsByWorkers = false

func sendRoom(syscall.RawConn) int { return -1 }
