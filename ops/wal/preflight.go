package wal

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/opsdeck/opsdeck/ops/postgres"
)

// preflightTimeout bounds reading the settings.
const preflightTimeout = 10 * time.Second

// Preflight reads, over a plain connection, what streaming with the
// configured slot needs from the server, and returns the settings read and
// an error wrapping ErrRefused that names every problem with its fix. A
// server that cannot be reached this way is left to the streamer to
// report (the replication connection may still work): ok is false then.
func (s *Streamer) Preflight(ctx context.Context) (a postgres.Archiving, ok bool, err error) {
	cctx, cancel := context.WithTimeout(ctx, s.ConnectTimeout+preflightTimeout)
	defer cancel()
	pool, err := postgres.Connect(cctx, s.DSN, s.ConnectTimeout)
	if err != nil {
		return a, false, nil
	}
	defer pool.Close()
	if a, err = postgres.ReadArchiving(cctx, pool, s.Slot); err != nil {
		return a, false, nil
	}
	if ps := a.Problems(s.Slot); len(ps) > 0 {
		return a, true, fmt.Errorf("%w: the server cannot stream WAL to opsdeck:\n  - %s", ErrRefused, strings.Join(ps, "\n  - "))
	}
	return a, true, nil
}
