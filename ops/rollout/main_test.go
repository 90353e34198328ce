package rollout_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/ops/kube"
	"github.com/opsdeck/opsdeck/ops/sandbox"
)

// One API server and one PostgreSQL for the package, started together.
var (
	kubeSrv  *sandbox.KubeServer
	pgSrv    *sandbox.PostgresServer
	startErr error
	skip     bool
)

func TestMain(m *testing.M) { os.Exit(runMain(m)) }

func runMain(m *testing.M) int {
	kube.RouteLibraryLogs(nil)
	if os.Getenv("OPSDECK_SKIP_INTEGRATION") == "1" {
		skip = true
		return m.Run()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var (
		wg          sync.WaitGroup
		kErr, pgErr error
	)
	wg.Go(func() { kubeSrv, kErr = sandbox.StartKube(ctx, sandbox.KubeOptions{}) })
	wg.Go(func() { pgSrv, pgErr = sandbox.StartPostgres(ctx, sandbox.PostgresOptions{}) })
	wg.Wait()
	if kubeSrv != nil {
		defer func() {
			if err := kubeSrv.Stop(); err != nil {
				fmt.Fprintln(os.Stderr, "stopping the kube sandbox:", err)
			}
		}()
	}
	if pgSrv != nil {
		defer pgSrv.Stop()
	}
	switch {
	case kErr != nil:
		startErr = kErr
	case pgErr != nil:
		startErr = pgErr
	}
	return m.Run()
}

// need skips under OPSDECK_SKIP_INTEGRATION=1 and fails with the fix when
// the servers could not start.
func need(tb testing.TB) {
	tb.Helper()
	if skip {
		tb.Skip("OPSDECK_SKIP_INTEGRATION=1")
	}
	if startErr != nil {
		tb.Fatalf("rollout integration tests need a local API server and PostgreSQL (make deps): %v", startErr)
	}
}
