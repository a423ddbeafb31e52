package domain

import (
	"encoding/json"
	"unicode/utf8"
)

// SafeJSON returns b as something every JSON reader takes: valid JSON in
// valid UTF-8. Bytes that are not UTF-8 (a payload stored by an older
// version, or by another program) become the escape \ufffd, which inside a
// JSON string is the replacement character; what is still not JSON then
// travels as a JSON string instead of breaking the message around it.
// Empty stays empty. Valid input, the usual case, is returned as it is.
func SafeJSON(b []byte) json.RawMessage {
	if len(b) == 0 {
		return nil
	}
	if !utf8.Valid(b) {
		b = escapeInvalidUTF8(b)
	}
	if !json.Valid(b) {
		s, _ := json.Marshal(string(b)) // valid UTF-8 by now: no error
		return s
	}
	return b
}

// escapeInvalidUTF8 returns a copy of b in which each byte that does not
// start a valid UTF-8 sequence is replaced with the six bytes \ufffd.
func escapeInvalidUTF8(b []byte) []byte {
	out := make([]byte, 0, len(b)+16)
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			out = append(out, `\ufffd`...)
			i++
			continue
		}
		out = append(out, b[i:i+n]...)
		i += n
	}
	return out
}

// InvalidUTF8Offset returns the byte offset of the first byte of b that is
// not part of valid UTF-8, and false when b is valid UTF-8.
func InvalidUTF8Offset(b []byte) (int, bool) {
	if utf8.Valid(b) {
		return 0, false
	}
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i, true
		}
		i += n
	}
	return 0, false
}
