package redis

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/opsdeck/opsdeck/ops/logging"
)

// tracer is the go-redis hook NewClient adds: one debug record (class
// redis) per dial, command and pipeline, with the server's address, the
// command's name only (never its arguments: AUTH's password, a key, a
// value), how long it took and how it ended. A nil reply is a result, not
// a failure.
type tracer struct {
	target string
}

var _ goredis.Hook = tracer{}

func (t tracer) DialHook(next goredis.DialHook) goredis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if !logging.Enabled(ctx) {
			return next(ctx, network, addr)
		}
		start := time.Now()
		c, err := next(ctx, network, addr)
		logging.Call(ctx, logging.ClassRedis, "redis dial", start, err, logging.KeyTarget, t.target)
		return c, err
	}
}

func (t tracer) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		if !logging.Enabled(ctx) {
			return next(ctx, cmd)
		}
		start := time.Now()
		err := next(ctx, cmd)
		logging.Call(ctx, logging.ClassRedis, "redis command", start, failure(err), logging.KeyTarget, t.target, logging.KeyCommand, cmd.Name())
		return err
	}
}

func (t tracer) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		if !logging.Enabled(ctx) {
			return next(ctx, cmds)
		}
		start := time.Now()
		err := next(ctx, cmds)
		logging.Call(ctx, logging.ClassRedis, "redis pipeline", start, failure(err), logging.KeyTarget, t.target,
			logging.KeyCommand, commandNames(cmds), logging.KeyCount, len(cmds))
		return err
	}
}

// failure is err unless it is a nil reply.
func failure(err error) error {
	if errors.Is(err, goredis.Nil) {
		return nil
	}
	return err
}

// commandNames lists the distinct command names of a pipeline, in order,
// at most five.
func commandNames(cmds []goredis.Cmder) string {
	var names []string
	for _, c := range cmds {
		n := c.Name()
		if !slices.Contains(names, n) {
			if len(names) == 5 {
				names = append(names, "…")
				break
			}
			names = append(names, n)
		}
	}
	return strings.Join(names, ",")
}
