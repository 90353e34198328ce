package bundle

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/redis"
)

// Redis's parts.
const (
	partRedisInfo    = "redis/info.txt"
	partRedisSlowlog = "redis/slowlog.txt"
	partRedisLatency = "redis/latency-latest.txt"
	partRedisClients = "redis/client-list.txt"
)

var redisParts = []string{partRedisInfo, partRedisSlowlog, partRedisLatency, partRedisClients}

// slowlogEntries is how many SLOWLOG entries are read.
const slowlogEntries = 128

// readRedis reads INFO, SLOWLOG GET (without arguments), LATENCY LATEST
// and CLIENT LIST at once: an unreachable server costs one timeout. No
// key's value is read.
func readRedis(ctx context.Context, cfg *config.Config, out *emitter) error {
	if cfg.Redis.URL == "" {
		return errors.New("not configured (redis.url or REDIS_URL)")
	}
	client, err := redis.NewClient(cfg.Redis.URL, cfg.Timeouts.Connect)
	if err != nil {
		return err
	}
	defer client.Close()
	var wg sync.WaitGroup
	wg.Go(func() {
		t0 := time.Now()
		text, err := redis.ReadInfo(ctx, client)
		out.Put(partRedisInfo, []byte(strings.ReplaceAll(text, "\r\n", "\n")), time.Since(t0), err)
	})
	wg.Go(func() {
		t0 := time.Now()
		entries, err := redis.ReadSlowLog(ctx, client, slowlogEntries)
		if err != nil {
			out.Put(partRedisSlowlog, nil, time.Since(t0), err)
			return
		}
		var b strings.Builder
		fmt.Fprintf(&b, "SLOWLOG GET %d: %d entries, newest first (the command's name only: its arguments may hold values)\n\n", slowlogEntries, len(entries))
		tw := tabwriter.NewWriter(&b, 0, 8, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tAT\tDURATION\tCOMMAND\tARGS\tCLIENT\tNAME")
		for _, e := range entries {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\t%s\n", e.ID, timeText(e.At), e.Duration, e.Command, e.Args, orNone(e.Client), orNone(e.Name))
		}
		tw.Flush()
		out.Put(partRedisSlowlog, []byte(b.String()), time.Since(t0), nil)
	})
	wg.Go(func() {
		t0 := time.Now()
		lines, err := redis.ReadLatencyLatest(ctx, client)
		if err != nil {
			out.Put(partRedisLatency, nil, time.Since(t0), err)
			return
		}
		body := "LATENCY LATEST: no event over latency-monitor-threshold (0 turns the monitor off)\n"
		if len(lines) > 0 {
			body = "LATENCY LATEST\n\n" + strings.Join(lines, "\n") + "\n"
		}
		out.Put(partRedisLatency, []byte(body), time.Since(t0), nil)
	})
	wg.Go(func() {
		t0 := time.Now()
		text, err := redis.ReadClientList(ctx, client)
		out.Put(partRedisClients, []byte(text), time.Since(t0), err)
	})
	wg.Wait()
	return nil
}
