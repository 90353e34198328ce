package health_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

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
	if os.Getenv("OPSDECK_SKIP_INTEGRATION") == "1" {
		return m.Run()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var err error
	sb, err = sandbox.Start(ctx, sandbox.Options{Scale: 0})
	if err != nil {
		fmt.Fprintf(os.Stderr, "start the sandbox: %v\nrun `make deps`, or set OPSDECK_SKIP_INTEGRATION=1 to skip\n", err)
		return 1
	}
	defer sb.Stop()
	return m.Run()
}

func requireSandbox(t *testing.T) {
	t.Helper()
	if sb == nil {
		t.Skip("OPSDECK_SKIP_INTEGRATION=1")
	}
}
