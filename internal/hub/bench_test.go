package hub

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/backupd/backupd/internal/domain"
	"github.com/backupd/backupd/internal/hub/hubtest"
)

// BenchmarkFanout publishes one event at a time to N real loopback clients
// and waits until all of them have it; ns/op is the time to reach the last
// client, and p50/p99 are over every single delivery. clients=1 is the
// baseline the others are read against.
func BenchmarkFanout(b *testing.B) {
	for _, n := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("clients=%d", n), func(b *testing.B) {
			th := newTestHub(b, Options{})
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			fleet, err := hubtest.Dial(ctx, th.url, n, hubtest.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer fleet.Close()
			var want int64
			b.ResetTimer()
			for b.Loop() {
				th.publish(domain.EventBackupSucceeded, "db", hubtest.Stamp())
				want += int64(n)
				if err := fleet.WaitReceived(ctx, want); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			lat := fleet.Latencies()
			b.ReportMetric(float64(hubtest.Percentile(lat, 50).Microseconds()), "p50-µs")
			b.ReportMetric(float64(hubtest.Percentile(lat, 99).Microseconds()), "p99-µs")
			b.ReportMetric(float64(n), "clients")
		})
	}
}
