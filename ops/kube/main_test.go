package kube_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/ops/sandbox"
)

// One API server for the package, seeded once with the default sample.
var (
	kubeSrv    *sandbox.KubeServer
	kubeSeed   sandbox.KubeSeedStats
	kubeErr    error // why integration tests cannot run
	kubeSkip   bool
	kubeStartD time.Duration
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	if os.Getenv("OPSDECK_SKIP_INTEGRATION") == "1" {
		kubeSkip = true
		return m.Run()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	t0 := time.Now()
	kubeSrv, kubeErr = sandbox.StartKube(ctx, sandbox.KubeOptions{})
	kubeStartD = time.Since(t0)
	if kubeErr == nil {
		defer func() {
			if err := kubeSrv.Stop(); err != nil {
				fmt.Fprintln(os.Stderr, "stopping the kube sandbox:", err)
			}
		}()
		kubeSeed, kubeErr = sandbox.SeedKube(ctx, kubeSrv.Config(), sandbox.KubeSeedOptions{})
	}
	defer func() {
		if err := stopDatabases(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping the tunnel tests' databases:", err)
		}
	}()
	return m.Run()
}

// needKube skips under OPSDECK_SKIP_INTEGRATION=1 and fails with the fix
// when the API server could not start (binaries missing: run make deps).
func needKube(tb testing.TB) *sandbox.KubeServer {
	tb.Helper()
	if kubeSkip {
		tb.Skip("OPSDECK_SKIP_INTEGRATION=1")
	}
	if kubeErr != nil {
		tb.Fatalf("kube integration tests need a local API server: %v", kubeErr)
	}
	return kubeSrv
}
