package wal

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/ops/access/accesstest"
	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/pgwal"
)

// childEnv makes the test binary a streamer of its own (for kill -9):
// the DSN, store dir and state dir follow in the environment.
const childEnv = "OPSDECK_WAL_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(childMain())
	}
	os.Exit(m.Run())
}

// childMain streams until killed.
func childMain() int {
	cfg := config.Default()
	cfg.Postgres.DSN = os.Getenv("OPSDECK_WAL_TEST_DSN")
	cfg.Postgres.WAL.Slot = "opsdeck_test"
	cfg.Postgres.WAL.FlushInterval = 100 * time.Millisecond
	if d, err := time.ParseDuration(os.Getenv("OPSDECK_WAL_TEST_FLUSH")); err == nil {
		cfg.Postgres.WAL.FlushInterval = d
	}
	cfg.Backup.Dir = os.Getenv("OPSDECK_WAL_TEST_STORE")
	cfg.StateDir = os.Getenv("OPSDECK_WAL_TEST_STATE")
	e, err := backup.New(cfg, "test", cfg.OpenAudit())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	s := New(e)
	s.OnDurable = func(lsn pgwal.LSN, at time.Time) { fmt.Println("durable", lsn, at.UnixNano()) }
	ctx, stop := signal.NotifyContext(accesstest.Admin(context.Background()), syscall.SIGTERM)
	defer stop()
	if err := s.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}
