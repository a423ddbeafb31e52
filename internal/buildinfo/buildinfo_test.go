package buildinfo

import (
	"runtime/debug"
	"testing"
)

func TestChoose(t *testing.T) {
	installed := &debug.BuildInfo{Main: debug.Module{Path: "github.com/backupd/backupd", Version: "v1.4.0"}}
	checkout := &debug.BuildInfo{Main: debug.Module{Path: "github.com/backupd/backupd", Version: "(devel)"}}
	for _, c := range []struct {
		name    string
		stamped string
		info    *debug.BuildInfo
		ok      bool
		want    string
	}{
		{"make build stamps it", "v1.5.0-3-gabcdef", installed, true, "v1.5.0-3-gabcdef"},
		{"go install module@version", "dev", installed, true, "v1.4.0"},
		{"go build in a checkout", "dev", checkout, true, "dev"},
		{"no build info", "dev", nil, false, "dev"},
	} {
		if got := choose(c.stamped, c.info, c.ok); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}
