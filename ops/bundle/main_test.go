package bundle_test

import (
	"os"
	"testing"

	"github.com/opsdeck/opsdeck/ops/kube"
	"github.com/opsdeck/opsdeck/ops/redis"
	"github.com/opsdeck/opsdeck/ops/sandbox"
)

// sb is the shared sandbox (tiny data set), nil under OPSDECK_SKIP_INTEGRATION=1.
var sb *sandbox.Sandbox

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	redis.RouteLibraryLogs(nil)
	kube.RouteLibraryLogs(nil)
	// The benchmark starts its own sandbox, and its child process none.
	if os.Getenv(helperEnv) != "" || os.Getenv("OPSDECK_BENCH_ONLY") == "1" {
		defer func() {
			if benchSandbox != nil {
				benchSandbox.Stop()
			}
		}()
		return m.Run()
	}
	return sandbox.RunTests(m, sandbox.Options{Scale: 0}, &sb)
}

func requireSandbox(t *testing.T) {
	t.Helper()
	if sb == nil {
		t.Skip("OPSDECK_SKIP_INTEGRATION=1")
	}
}
