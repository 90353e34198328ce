package tasks_test

import (
	"context"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/ops/access"
	"github.com/opsdeck/opsdeck/ops/tasks"
)

func TestRegistry(t *testing.T) {
	r := tasks.New()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sub := r.Subscribe(ctx)
	alice := access.WithIdentity(context.Background(), access.Identity{User: "alice", Roles: map[string]access.Role{access.AllEnvs: access.Operator}})
	done := r.Start(alice, "backup full")
	select {
	case <-sub:
	case <-time.After(time.Second):
		t.Fatal("no signal on start")
	}
	running := r.Running()
	if len(running) != 1 || running[0].Who != "alice" || running[0].Name != "backup full" {
		t.Fatalf("running = %+v", running)
	}
	done()
	done() // twice is harmless
	<-sub
	if n := len(r.Running()); n != 0 {
		t.Fatalf("%d still running", n)
	}
	var nilReg *tasks.Registry
	nilReg.Start(alice, "x")()
	if nilReg.Running() != nil {
		t.Fatal("nil registry")
	}
}
