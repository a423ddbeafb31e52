package hub

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/backupd/backupd/internal/domain"
)

// appendP2Event appends ev as protocol 2 sees it: the bytes of
// json.Marshal(p2Message(ev)), in one pass over the payload instead of
// three (validate, validate, compact and escape) and without reflection. A
// replay of a large catalog spends most of its time here. Anything off the
// fast path (a payload that is not JSON or not UTF-8, or has characters
// json.Marshal escapes, a year it refuses) goes through json.Marshal itself.
func appendP2Event(dst []byte, ev domain.Event) ([]byte, error) {
	start := len(dst)
	if out, ok := appendP2Fast(dst, ev); ok {
		return out, nil
	}
	b, err := json.Marshal(p2Message(ev))
	if err != nil {
		return dst[:start], err
	}
	return append(dst[:start], b...), nil
}

func appendP2Fast(dst []byte, ev domain.Event) ([]byte, bool) {
	if y := ev.Time.Year(); y < 0 || y > 9999 {
		return dst, false
	}
	dst = append(dst, `{"eventType":"event","id":`...)
	dst = strconv.AppendInt(dst, ev.ID, 10)
	dst = append(dst, `,"type":`...)
	var ok bool
	if dst, ok = appendPlainString(dst, ev.Type); !ok {
		return dst, false
	}
	if ev.BackupID != 0 {
		dst = append(dst, `,"backup_id":`...)
		dst = strconv.AppendInt(dst, ev.BackupID, 10)
	}
	if ev.Source != "" {
		dst = append(dst, `,"source":`...)
		if dst, ok = appendPlainString(dst, ev.Source); !ok {
			return dst, false
		}
	}
	dst = append(dst, `,"time":"`...)
	dst = ev.Time.AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, `","data":`...)
	if len(ev.Data) == 0 {
		dst = append(dst, "null"...)
	} else {
		buf := bytes.NewBuffer(dst)
		if json.Compact(buf, ev.Data) != nil {
			return dst, false // not JSON: json.Marshal sends it as a string
		}
		data := buf.Bytes()[len(dst):]
		if needsEscape(data) || !utf8.Valid(data) {
			return dst, false // json.Marshal escapes; rawData makes it UTF-8
		}
		dst = buf.Bytes()
	}
	if ev.Ephemeral {
		dst = append(dst, `,"ephemeral":true`...)
	}
	return append(dst, '}'), true
}

// appendPlainString appends s quoted if json.Marshal would write it with
// no escapes at all.
func appendPlainString(dst []byte, s string) ([]byte, bool) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x80 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return dst, false
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"'), true
}

// needsEscape reports whether compact JSON b holds something json.Marshal
// would rewrite: <, > and & (HTML-safe output), and U+2028 and U+2029.
func needsEscape(b []byte) bool {
	if bytes.IndexAny(b, "<>&") >= 0 {
		return true
	}
	for i := bytes.IndexByte(b, 0xe2); i >= 0; {
		if i+2 < len(b) && b[i+1] == 0x80 && (b[i+2] == 0xa8 || b[i+2] == 0xa9) {
			return true
		}
		j := bytes.IndexByte(b[i+1:], 0xe2)
		if j < 0 {
			break
		}
		i += 1 + j
	}
	return false
}
