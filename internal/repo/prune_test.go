package repo_test

import (
	"testing"
)

func testPrune(t *testing.T, newBackend newBackendFunc) {}

func testPruneRace(t *testing.T, newBackend newBackendFunc) {}
