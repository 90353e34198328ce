package redis_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/opsdeck/opsdeck/ops/redis"
	"github.com/opsdeck/opsdeck/ops/sandbox"
)

// testPassword protects the shared server.
const testPassword = "opsdeck-test-4f9c2a"

// server is the shared redis-server with requirepass, nil when
// OPSDECK_SKIP_INTEGRATION=1.
var server *sandbox.RedisServer

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	redis.RouteLibraryLogs(nil) // keep failed-dial lines out of the test output
	if os.Getenv("OPSDECK_SKIP_INTEGRATION") == "1" {
		return m.Run()
	}
	if _, err := sandbox.RedisServerPath(); err != nil {
		fmt.Fprintf(os.Stderr, "%v\nrun `make deps` to install the test servers, or set OPSDECK_SKIP_INTEGRATION=1 to skip\n", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var err error
	server, err = sandbox.StartRedis(ctx, sandbox.RedisOptions{Password: testPassword})
	if err != nil {
		fmt.Fprintf(os.Stderr, "start redis-server: %v\n", err)
		return 1
	}
	defer server.Stop()
	return m.Run()
}

// requireServer skips integration tests under OPSDECK_SKIP_INTEGRATION=1.
func requireServer(t *testing.T) {
	t.Helper()
	if server == nil {
		t.Skip("OPSDECK_SKIP_INTEGRATION=1")
	}
}

// newClient connects to url and closes the client after the test.
func newClient(t *testing.T, url string, timeout time.Duration) *goredis.Client {
	t.Helper()
	c, err := redis.NewClient(url, timeout)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
