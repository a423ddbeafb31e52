package hub

import "encoding/binary"

// A frame is one complete server-to-client WebSocket text message: header
// and payload, ready for the wire. Server frames are unmasked and this hub
// never compresses, so the bytes are the same for every client: a broadcast
// is encoded and framed once, and each write pump only copies it out,
// several queued frames per system call when it has fallen behind.

// appendTextFrame appends payload as one final text frame (RFC 6455 5.2).
func appendTextFrame(dst, payload []byte) []byte {
	return append(appendTextHeader(dst, len(payload)), payload...)
}

// appendTextHeader appends the header of a final text frame of n bytes.
func appendTextHeader(dst []byte, n int) []byte {
	const finText = 0x80 | 0x1
	switch {
	case n < 126:
		return append(dst, finText, byte(n))
	case n <= 0xffff:
		dst = append(dst, finText, 126)
		return binary.BigEndian.AppendUint16(dst, uint16(n))
	default:
		dst = append(dst, finText, 127)
		return binary.BigEndian.AppendUint64(dst, uint64(n))
	}
}

// textFrame returns payload framed in a new slice.
func textFrame(payload []byte) []byte {
	return appendTextFrame(make([]byte, 0, len(payload)+10), payload)
}
