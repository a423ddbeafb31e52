// Package testenv decides what a test does when something it needs from the
// machine (a server, a command) is missing: on a developer's laptop it skips
// with a message saying what to install; under CI=true it fails, because
// CI must run every test.
package testenv

import (
	"net"
	"os"
	"os/exec"
	"testing"
	"time"
)

// CI reports whether the tests run in CI (CI=true).
func CI() bool { return os.Getenv("CI") == "true" }

// Missing skips t, or fails it under CI, explaining what is missing.
func Missing(t testing.TB, what string, err error) {
	t.Helper()
	if CI() {
		t.Fatalf("%s is required under CI=true but unavailable: %v", what, err)
	}
	t.Skipf("skipping: %s is unavailable (%v); install or start it to run this test", what, err)
}

// Command returns the path of the named program, or skips/fails t.
func Command(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(t, "the "+name+" command", err)
	}
	return p
}

// FreeAddr returns a loopback address with a port that was free a moment
// ago, for a server a test starts.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// WaitTimeout bounds every wait of a test for something that should
// happen: long enough for a loaded 2-core CI machine under -race, short
// enough that a hang fails with a message before the package timeout.
const WaitTimeout = 60 * time.Second

// Recv receives from ch, failing t with what it waited for if nothing
// arrives within WaitTimeout.
func Recv[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	timer := time.NewTimer(WaitTimeout)
	defer timer.Stop()
	select {
	case v := <-ch:
		return v
	case <-timer.C:
		t.Fatalf("gave up after %s waiting for %s", WaitTimeout, what)
		var zero T
		return zero
	}
}
