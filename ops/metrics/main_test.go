package metrics_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/ops/sandbox"
)

// sb is the package's sandbox (Postgres, Redis, Kubernetes at scale 0),
// nil under OPSDECK_SKIP_INTEGRATION=1.
var sb *sandbox.Sandbox

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
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
	defer func() {
		if err := sb.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stop the sandbox:", err)
		}
	}()
	return m.Run()
}

func needSandbox(t testing.TB) *sandbox.Sandbox {
	t.Helper()
	if sb == nil {
		t.Skip("OPSDECK_SKIP_INTEGRATION=1")
	}
	return sb
}
