// Package deploy_test checks the files in deploy/ against the real daemon:
// the alert rules fire for the sources they should, the dashboard asks for
// metrics that exist, the example config passes config check, and the
// systemd unit has its hardening.
package deploy_test

import (
	"testing"

	"github.com/backupd/backupd/internal/testdaemon"
)

func TestMain(m *testing.M) { testdaemon.Main(m) }
