package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/backupd/backupd/internal/testdaemon"
	"github.com/backupd/backupd/internal/webhook"
)

// An endpoint that answered 410 Gone is listed as disabled and gets
// nothing more until `backupctl endpoints enable` sends to it again.
func TestEndpointsEnableAfterGone(t *testing.T) {
	var calls atomic.Int64
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusGone)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer recv.Close()
	d := testdaemon.Start(t, testdaemon.Options{Config: fmt.Sprintf(`
sources:
  small:
    kind: command
    command: ["echo", "hello"]
webhooks:
  outbound:
    - url: %s
      secret: whsec_YmFja3VwZCBlbmRwb2ludHMgdGVzdA==
`, recv.URL)})
	ctx := context.Background()
	list := func() []webhook.EndpointStatus {
		t.Helper()
		out, errOut, code := d.Backupctl(ctx, "endpoints", "-o", "json")
		var eps []webhook.EndpointStatus
		if code != 0 || json.Unmarshal([]byte(out), &eps) != nil || len(eps) != 1 {
			t.Fatalf("endpoints -o json: exit %d, %q %q", code, out, errOut)
		}
		return eps
	}
	runBackup(t, d, "small")
	deadline := time.Now().Add(20 * time.Second)
	for list()[0].DisabledAt == nil {
		if time.Now().After(deadline) {
			t.Fatalf("endpoint not disabled after a 410; receiver called %d times", calls.Load())
		}
		time.Sleep(20 * time.Millisecond)
	}
	ep := list()[0]
	out, _, _ := d.Backupctl(ctx, "endpoints")
	if !strings.Contains(out, recv.URL) || !strings.Contains(out, "disabled") || !strings.Contains(out, "backup.succeeded") {
		t.Errorf("endpoints table:\n%s", out)
	}

	_, errOut, code := d.Backupctl(ctx, "endpoints", "enable", "x")
	if code != 2 || !strings.Contains(errOut, "positive integer") {
		t.Errorf("enable x: exit %d, %q; want 2 and what to fix", code, errOut)
	}
	_, errOut, code = d.Backupctl(ctx, "endpoints", "enable", fmt.Sprint(ep.ID+1))
	if code == 0 || !strings.Contains(errOut, "no configured outbound endpoint") {
		t.Errorf("enable of an unknown id: exit %d, %q", code, errOut)
	}
	out, errOut, code = d.Backupctl(ctx, "endpoints", "enable", fmt.Sprint(ep.ID))
	if code != 0 || !strings.Contains(out, "is enabled") {
		t.Fatalf("enable: exit %d, %q %q", code, out, errOut)
	}
	if list()[0].DisabledAt != nil {
		t.Fatal("still disabled after enable")
	}
	runBackup(t, d, "small")
	for calls.Load() < 2 {
		if time.Now().After(deadline.Add(20 * time.Second)) {
			t.Fatalf("no delivery after enable; receiver called %d times", calls.Load())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
