package wal

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/opsdeck/opsdeck/ops/access/accesstest"
	"github.com/opsdeck/opsdeck/ops/lockfile"
)

// One streamer per slot: a second is refused naming the first; another
// slot is not; released, the slot is free again.
func TestStreamerLock(t *testing.T) {
	dir := t.TempDir()
	ctx := accesstest.Admin(context.Background())
	first, err := acquireStreamerLock(dir, "opsdeck", ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, err = acquireStreamerLock(dir, "opsdeck", ctx)
	if !errors.Is(err, ErrStreaming) || !errors.Is(err, lockfile.ErrLocked) {
		t.Fatalf("second streamer: %v", err)
	}
	for _, w := range []string{`"opsdeck"`, "wal stream opsdeck is running", fmt.Sprintf("pid %d", os.Getpid()), "stop it first"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%q lacks %q", err, w)
		}
	}
	other, err := acquireStreamerLock(dir, "other", ctx)
	if err != nil {
		t.Fatalf("another slot: %v", err)
	}
	other.Release()
	first.Release()
	again, err := acquireStreamerLock(dir, "opsdeck", ctx)
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	again.Release()
}
