package backup

import (
	"context"
	"fmt"
	"github.com/opsdeck/opsdeck/ops/access/accesstest"
	"os"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/sandbox"
)

// sb is the package's one sandbox (tiny data set); nil when skipped.
var sb *sandbox.Sandbox

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(childMain())
	}
	if os.Getenv("OPSDECK_SKIP_INTEGRATION") == "1" {
		os.Exit(m.Run())
	}
	ctx, cancel := context.WithTimeout(accesstest.Admin(context.Background()), 3*time.Minute)
	var err error
	sb, err = sandbox.Start(ctx, sandbox.Options{Scale: 0})
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "start the sandbox: %v\nrun `make deps`, or set OPSDECK_SKIP_INTEGRATION=1 to skip\n", err)
		os.Exit(1)
	}
	code := m.Run()
	if err := sb.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stop the sandbox:", err)
	}
	os.Exit(code)
}

func needSandbox(t *testing.T) {
	t.Helper()
	if sb == nil {
		t.Skip("OPSDECK_SKIP_INTEGRATION=1")
	}
}

// testConfig is the sandbox's config with a fresh store and state dir.
func testConfig(t *testing.T) *config.Config {
	t.Helper()
	cfg := *sb.Config
	cfg.Backup.Dir = t.TempDir()
	cfg.StateDir = t.TempDir()
	return &cfg
}

func newEngine(t *testing.T, cfg *config.Config) *Engine {
	t.Helper()
	e, err := New(cfg, "test", cfg.OpenAudit())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Audit.Close() })
	return e
}
