package httpapi

import (
	"testing"

	"github.com/backupd/backupd/internal/testdaemon"
)

func TestMain(m *testing.M) { testdaemon.Main(m) }
