// Package bench_test holds the benchmarks `make bench` runs. Each measures
// backupd and a baseline in the same run and reports both and their ratio
// (see docs/benchmarks.md); none asserts on time.
package bench_test

import (
	"testing"

	"github.com/backupd/backupd/internal/testdaemon"
)

func TestMain(m *testing.M) { testdaemon.Main(m) }
