package restore_test

import (
	"os"
	"testing"

	"github.com/opsdeck/opsdeck/ops/redis"
	"github.com/opsdeck/opsdeck/ops/sandbox"
)

// sb is the package's one sandbox (tiny data set); nil when skipped.
var sb *sandbox.Sandbox

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(childMain()) // a restore to be killed (kill_test.go)
	}
	redis.RouteLibraryLogs(nil) // go-redis's dial failures are the tests' business
	os.Exit(sandbox.RunTests(m, sandbox.Options{Scale: 0}, &sb))
}

func needSandbox(t *testing.T) {
	t.Helper()
	if sb == nil {
		t.Skip("OPSDECK_SKIP_INTEGRATION=1")
	}
}
