package redis_test

import (
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/opsdeck/opsdeck/ops/logging"
	"github.com/opsdeck/opsdeck/ops/logging/loggingtest"
)

func TestTraceRecordsCommands(t *testing.T) {
	requireServer(t)
	rec := loggingtest.Capture(t)
	c := newClient(t, server.URL(), 3*time.Second)
	ctx := t.Context()
	const key, value = "trace:key-91", "a-value-that-stays-out-3"
	if err := c.Set(ctx, key, value, time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.Get(ctx, "trace:missing").Err(); err != goredis.Nil {
		t.Fatalf("get missing: %v", err)
	}
	if _, err := c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		p.Type(ctx, key)
		p.PTTL(ctx, key)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	target := server.Addr()
	if len(rec.Find(t, "redis dial", logging.KeyClass, logging.ClassRedis, logging.KeyTarget, target, logging.KeyOutcome, "ok")) == 0 {
		t.Errorf("no dial record for %s:\n%s", target, rec)
	}
	set := rec.Find(t, "redis command", logging.KeyCommand, "set", logging.KeyOutcome, "ok")
	if len(set) != 1 {
		t.Fatalf("set records = %v\n%s", set, rec)
	}
	if _, ok := set[0][logging.KeyDuration]; !ok {
		t.Errorf("command record without its duration: %v", set[0])
	}
	if len(rec.Find(t, "redis command", logging.KeyCommand, "get", logging.KeyOutcome, "ok")) != 1 {
		t.Errorf("a nil reply is not an ok get:\n%s", rec)
	}
	if len(rec.Find(t, "redis pipeline", logging.KeyCommand, "type,pttl", logging.KeyCount, "2")) != 1 {
		t.Errorf("no pipeline record:\n%s", rec)
	}
	for _, s := range []string{key, value, testPassword} {
		if strings.Contains(rec.String(), s) {
			t.Errorf("the trace holds %q:\n%s", s, rec)
		}
	}
}
