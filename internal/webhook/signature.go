package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/backupd/backupd/internal/domain"
)

// Standard Webhooks header names (https://www.standardwebhooks.com).
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// DefaultTolerance is how far a webhook-timestamp may be from our clock,
// either way, before a request is refused as a possible replay.
const DefaultTolerance = 5 * time.Minute

// maxIDLen bounds the webhook-id: it is stored and indexed.
const maxIDLen = 256

// ParseSecret decodes a "whsec_<base64>" secret into its key bytes.
func ParseSecret(s string) ([]byte, error) {
	b64, ok := strings.CutPrefix(s, "whsec_")
	if !ok {
		return nil, fmt.Errorf("parse secret: it must start with whsec_")
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, fmt.Errorf("parse secret: the part after whsec_ is not base64: %w", err)
	}
	if len(key) == 0 {
		return nil, fmt.Errorf("parse secret: it is empty")
	}
	return key, nil
}

// Sign returns the "v1,<base64>" signature of body sent as message id at ts.
func Sign(key []byte, id string, ts time.Time, body []byte) string {
	return "v1," + base64.StdEncoding.EncodeToString(mac(key, id, strconv.FormatInt(ts.Unix(), 10), body))
}

// SignHeaders sets the three Standard Webhooks headers on h.
func SignHeaders(h http.Header, key []byte, id string, ts time.Time, body []byte) {
	h.Set(HeaderID, id)
	h.Set(HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	h.Set(HeaderSignature, Sign(key, id, ts, body))
}

func mac(key []byte, id, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Verifier checks inbound signatures against one or more secrets.
type Verifier struct {
	keys      [][]byte
	tolerance time.Duration
	now       func() time.Time
}

// NewVerifier returns a Verifier for the given whsec_ secrets. Several
// secrets allow rotation: a signature by any of them is accepted.
func NewVerifier(secrets []string, tolerance time.Duration) (*Verifier, error) {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	v := &Verifier{tolerance: tolerance, now: time.Now}
	for i, s := range secrets {
		key, err := ParseSecret(s)
		if err != nil {
			return nil, fmt.Errorf("webhooks.secrets[%d]: %w", i, err)
		}
		v.keys = append(v.keys, key)
	}
	return v, nil
}

// verifyError is an EUNAUTHORIZED error that remembers its metric reason.
func verifyError(reason, format string, args ...any) error {
	e := domain.Errorf(domain.EUNAUTHORIZED, format, args...)
	e.Extra = map[string]any{"reason": reason}
	return e
}

// Headers checks that the three headers are present and well formed and
// the timestamp is within tolerance, which needs no body. It returns the
// webhook id.
func (v *Verifier) Headers(h http.Header) (string, error) {
	id, ts, sig := h.Get(HeaderID), h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	for _, p := range []struct{ name, val string }{{HeaderID, id}, {HeaderTimestamp, ts}, {HeaderSignature, sig}} {
		if p.val == "" {
			return "", verifyError(reasonMissingHeader, "missing header %s: reports must be signed (Standard Webhooks)", p.name)
		}
	}
	if len(id) > maxIDLen {
		return "", verifyError(reasonBadHeader, "header %s is longer than %d bytes", HeaderID, maxIDLen)
	}
	secs, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return "", verifyError(reasonBadHeader, "header %s=%q is not a Unix time in seconds", HeaderTimestamp, ts)
	}
	if err := v.checkTime(secs); err != nil {
		return "", err
	}
	return id, nil
}

// checkTime refuses a timestamp more than the tolerance away from our
// clock, either way. It compares whole seconds first, so that no value of
// secs can overflow the arithmetic (a far-future timestamp once made the
// difference wrap and pass), then the exact difference, which is now
// within range.
func (v *Verifier) checkTime(secs int64) error {
	now := v.now()
	slack := int64(v.tolerance/time.Second) + 1
	switch nowSecs := now.Unix(); {
	case secs < nowSecs-slack:
		return verifyError(reasonTooOld, "webhook-timestamp %d is too old (more than %s behind our clock)", secs, v.tolerance)
	case secs > nowSecs+slack:
		return verifyError(reasonTooNew, "webhook-timestamp %d is too new (more than %s ahead of our clock)", secs, v.tolerance)
	}
	skew := now.Sub(time.Unix(secs, 0))
	if skew > v.tolerance {
		return verifyError(reasonTooOld, "webhook-timestamp is too old (%s behind our clock; the limit is %s)", skew.Round(time.Second), v.tolerance)
	}
	if -skew > v.tolerance {
		return verifyError(reasonTooNew, "webhook-timestamp is too new (%s ahead of our clock; the limit is %s)", (-skew).Round(time.Second), v.tolerance)
	}
	return nil
}

// Verify checks the headers (see Headers) and that at least one v1
// signature in webhook-signature is the HMAC of the body by one of the
// secrets. Every comparison is constant-time.
func (v *Verifier) Verify(h http.Header, body []byte) (string, error) {
	id, err := v.Headers(h)
	if err != nil {
		return "", err
	}
	if len(v.keys) == 0 {
		return "", verifyError(reasonNoMatch, "no webhook secret is configured here, so no signature can match (webhooks.secrets)")
	}
	want := make([][]byte, len(v.keys))
	for i, k := range v.keys {
		want[i] = mac(k, id, h.Get(HeaderTimestamp), body)
	}
	match := 0
	for _, s := range strings.Fields(h.Get(HeaderSignature)) {
		b64, ok := strings.CutPrefix(s, "v1,")
		if !ok {
			continue // another scheme (v1a, ...): not ours to judge
		}
		got, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			continue
		}
		for _, w := range want {
			match |= subtle.ConstantTimeCompare(got, w)
		}
	}
	if match == 0 {
		return "", verifyError(reasonNoMatch, "no signature in webhook-signature matches: check the secret and that the body is sent byte for byte as signed")
	}
	return id, nil
}
