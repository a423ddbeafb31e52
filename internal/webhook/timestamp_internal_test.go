package webhook

import (
	"math"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// FuzzTimestamp: a webhook-timestamp is accepted exactly when it is within
// the tolerance of our clock, for every value an int64 can hold, and every
// refusal names the right side.
func FuzzTimestamp(f *testing.F) {
	now := time.Unix(1_780_000_000, 500_000_000)
	for _, secs := range []int64{
		now.Unix(), now.Unix() - 300, now.Unix() + 300, now.Unix() - 301, now.Unix() + 301,
		0, -1, math.MaxInt64, math.MinInt64, math.MaxInt64 / 2, math.MinInt64 / 2,
		math.MaxInt64 - now.Unix(), 253402300800, -62135596800,
	} {
		f.Add(secs)
	}
	v := &Verifier{tolerance: DefaultTolerance, now: func() time.Time { return now }}
	f.Fuzz(func(t *testing.T, secs int64) {
		h := http.Header{}
		h.Set(HeaderID, "msg_1")
		h.Set(HeaderTimestamp, strconv.FormatInt(secs, 10))
		h.Set(HeaderSignature, "v1,AAAA")
		_, err := v.Headers(h)
		// Exact arithmetic in nanoseconds, in float64 only far from the
		// boundary, where rounding cannot change the answer.
		var within bool
		if d := float64(secs) - float64(now.Unix()); d < -1e6 || d > 1e6 {
			within = false
		} else {
			diff := time.Duration(secs-now.Unix())*time.Second - time.Duration(now.Nanosecond())
			within = diff >= -DefaultTolerance && diff <= DefaultTolerance
		}
		if within && err != nil {
			t.Fatalf("timestamp %d (now %d): refused: %v", secs, now.Unix(), err)
		}
		if !within {
			if err == nil {
				t.Fatalf("timestamp %d (now %d): accepted, more than %s away", secs, now.Unix(), DefaultTolerance)
			}
			want := reasonTooOld
			if secs > now.Unix() {
				want = reasonTooNew
			}
			if got := rejectReason(err); got != want {
				t.Fatalf("timestamp %d: reason %q, want %q (%v)", secs, got, want, err)
			}
		}
	})
}
