package wal

import (
	"context"
	"fmt"
	"os"
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
	cfg.Backup.Dir = os.Getenv("OPSDECK_WAL_TEST_STORE")
	cfg.StateDir = os.Getenv("OPSDECK_WAL_TEST_STATE")
	e, err := backup.New(cfg, "test", cfg.OpenAudit())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	s := New(e)
	s.OnDurable = func(lsn pgwal.LSN, _ time.Time) { fmt.Println("durable", lsn) }
	if err := s.Run(accesstest.Admin(context.Background())); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}
