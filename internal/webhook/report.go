package webhook

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/backupd/backupd/internal/domain"
)

// UnknownSource is the source of a report that names none we can use.
const UnknownSource = "unknown"

// ParseReport reads a backup-completion report: any JSON object. The fields
// it understands (see docs/webhooks.md) fill the record; anything else, or a
// known field of an odd type, is left alone and kept in Raw, which holds the
// body exactly as received. Only a body that is not one JSON object is
// refused (EINVALID), and so is one that is not UTF-8. Origin, WebhookID, SenderIP and the times of receipt
// are the caller's to set.
func ParseReport(body []byte) (domain.Backup, error) {
	// Decoding into a struct of raw fields, not a map, skips the fields we
	// do not read without allocating for them: this runs once per request.
	// Names match regardless of case, as everywhere in encoding/json.
	var f struct {
		Source     json.RawMessage `json:"source"`
		Kind       json.RawMessage `json:"kind"`
		Status     json.RawMessage `json:"status"`
		StartedAt  json.RawMessage `json:"started_at"`
		FinishedAt json.RawMessage `json:"finished_at"`
		SizeBytes  json.RawMessage `json:"size_bytes"`
		SHA256     json.RawMessage `json:"sha256"`
		Location   json.RawMessage `json:"location"`
		Message    json.RawMessage `json:"message"`
		Error      json.RawMessage `json:"error"`
	}
	// JSON is UTF-8 (RFC 8259), and what is stored here goes out again in
	// WebSocket text frames, which must be UTF-8 or the peer drops the
	// connection; encoding/json would let such bytes through.
	if off, bad := domain.InvalidUTF8Offset(body); bad {
		return domain.Backup{}, domain.Errorf(domain.EINVALID, "the report is not valid UTF-8: byte %#02x at offset %d", body[off], off)
	}
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return domain.Backup{}, domain.Errorf(domain.EINVALID, "the report must be a JSON object: %s", jsonProblem(body, nil))
	}
	if err := json.Unmarshal(body, &f); err != nil {
		return domain.Backup{}, domain.Errorf(domain.EINVALID, "the report must be a JSON object: %s", jsonProblem(body, err))
	}
	b := domain.Backup{Origin: domain.OriginWebhook, Raw: json.RawMessage(body)}
	b.Source = UnknownSource
	if s, ok := str(f.Source); ok {
		b.Source = SanitizeSource(s)
	}
	b.Kind, _ = str(f.Kind)
	b.Message, _ = str(f.Message)
	b.Error, _ = str(f.Error)
	b.Archive, _ = str(f.Location)
	if s, ok := str(f.SHA256); ok && isHex64(s) {
		b.SHA256 = strings.ToLower(s)
	}
	if n, ok := count(f.SizeBytes); ok {
		b.SizeBytes = n
	}
	b.StartedAt = timestamp(f.StartedAt)
	b.FinishedAt = timestamp(f.FinishedAt)
	b.Status, b.Error = reportStatus(f.Status, b.Error)
	return b, nil
}

func jsonProblem(body []byte, err error) string {
	if err != nil {
		return err.Error()
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return "the body is empty"
	}
	return "got " + strings.TrimSpace(string(body[:min(len(body), 20)]))
}

// statusWords maps what senders say to our statuses. Matching is on the
// lowercased, trimmed word.
var statusWords = map[string]domain.Status{}

func init() {
	for st, words := range map[domain.Status][]string{
		domain.StatusSucceeded: {"succeeded", "success", "successful", "succeed", "ok", "completed", "complete", "done", "finished", "passed"},
		domain.StatusFailed:    {"failed", "failure", "fail", "error", "errored"},
		domain.StatusCanceled:  {"canceled", "cancelled", "cancel", "aborted", "abort"},
		domain.StatusRunning:   {"running", "started", "in_progress", "in-progress", "active"},
		domain.StatusQueued:    {"queued", "pending", "scheduled"},
	} {
		for _, w := range words {
			statusWords[w] = st
		}
	}
}

// reportStatus decides the status. A report without one is a completion
// report: succeeded, unless it carries an error. A status we cannot read is
// recorded as failed, never as succeeded: a backup system must not claim a
// success nobody reported.
func reportStatus(raw json.RawMessage, errText string) (domain.Status, string) {
	if raw == nil || string(raw) == "null" {
		if errText != "" {
			return domain.StatusFailed, errText
		}
		return domain.StatusSucceeded, errText
	}
	s, ok := str(raw)
	if ok {
		if st, known := statusWords[strings.ToLower(strings.TrimSpace(s))]; known {
			return st, errText
		}
	}
	if errText == "" {
		errText = "reported status " + string(raw[:min(len(raw), 64)]) + " is not one backupd knows; recorded as failed"
	}
	return domain.StatusFailed, errText
}

// SanitizeSource turns a reported source into a valid name: characters
// outside [A-Za-z0-9_.-] become '-', leading punctuation is dropped and the
// result is cut to 64 bytes. What is left empty becomes UnknownSource.
func SanitizeSource(s string) string {
	if domain.ValidName(s) {
		return s
	}
	var sb strings.Builder
	for _, r := range s {
		switch {
		case r < 128 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-'):
			sb.WriteRune(r)
		default:
			sb.WriteByte('-')
		}
	}
	out := strings.TrimLeft(sb.String(), "_.-")
	out = out[:min(len(out), 64)]
	if !domain.ValidName(out) {
		return UnknownSource
	}
	return out
}

func str(raw json.RawMessage) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' {
		return "", false
	}
	// Most strings need no decoding: printable ASCII without escapes. The
	// body was validated as a whole, so raw is one complete JSON string.
	if plain(raw[1 : len(raw)-1]) {
		return string(raw[1 : len(raw)-1]), true
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// plain reports whether b is printable ASCII without quotes or
// backslashes: a JSON string body that decodes to itself.
func plain(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// count reads a non-negative integer given as a JSON number or a string of
// digits.
func count(raw json.RawMessage) (int64, bool) {
	if s, ok := str(raw); ok {
		raw = json.RawMessage(strings.TrimSpace(s))
	}
	if n, err := strconv.ParseInt(string(raw), 10, 64); err == nil {
		return n, n >= 0
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || f < 0 || f != math.Trunc(f) || f >= math.MaxInt64 {
		return 0, false
	}
	return int64(f), true
}

// timestamp reads an RFC 3339 string or Unix seconds (a number, possibly
// with a fraction).
func timestamp(raw json.RawMessage) *time.Time {
	if s, ok := str(raw); ok {
		t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(s))
		if err != nil {
			return nil
		}
		t = t.UTC()
		return &t
	}
	if len(raw) == 0 || bytes.ContainsAny(raw, `"{[tfn`) {
		return nil
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	// Beyond year 9999 the catalog's fixed-width time text would break.
	if err != nil || f < 0 || f > 253402300799 {
		return nil
	}
	sec, frac := math.Modf(f)
	t := time.Unix(int64(sec), int64(frac*1e9)).UTC()
	return &t
}

func isHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}
