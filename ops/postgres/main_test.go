package postgres_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/opsdeck/opsdeck/ops/postgres"
	"github.com/opsdeck/opsdeck/ops/sandbox"
)

// server is the shared PostgreSQL server, nil when
// OPSDECK_SKIP_INTEGRATION=1.
var server *sandbox.PostgresServer

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if os.Getenv("OPSDECK_SKIP_INTEGRATION") == "1" {
		return m.Run()
	}
	if _, err := sandbox.PostgresBinDir(); err != nil {
		fmt.Fprintf(os.Stderr, "%v\nrun `make deps` to install the test servers, or set OPSDECK_SKIP_INTEGRATION=1 to skip\n", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var err error
	server, err = sandbox.StartPostgres(ctx, sandbox.PostgresOptions{})
	if err != nil {
		fmt.Fprintf(os.Stderr, "start PostgreSQL: %v\n", err)
		return 1
	}
	defer server.Stop()
	if _, err := sandbox.SeedPostgres(ctx, server.DSN(), 0); err != nil {
		fmt.Fprintf(os.Stderr, "seed PostgreSQL: %v\n", err)
		return 1
	}
	return m.Run()
}

// requireServer skips integration tests under OPSDECK_SKIP_INTEGRATION=1.
func requireServer(t *testing.T) {
	t.Helper()
	if server == nil {
		t.Skip("OPSDECK_SKIP_INTEGRATION=1")
	}
}

// connect opens a pool on dsn and closes it after the test.
func connect(t *testing.T, dsn string) *pgxpool.Pool {
	t.Helper()
	pool, err := postgres.Connect(t.Context(), dsn, 3*time.Second)
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}
