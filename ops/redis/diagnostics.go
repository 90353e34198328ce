package redis

import (
	"context"
	"fmt"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// SlowEntry is one entry of SLOWLOG GET without its arguments: they may
// hold values (SET's, a script's), so only the command's name and the
// number of its arguments are kept.
type SlowEntry struct {
	ID       int64         `json:"id"`
	At       time.Time     `json:"at"`
	Duration time.Duration `json:"duration_ns"`
	Command  string        `json:"command"`
	Args     int           `json:"args"`
	Client   string        `json:"client,omitempty"`
	Name     string        `json:"client_name,omitempty"`
}

// ReadInfo returns INFO everything's text as the server wrote it (no
// section of INFO holds a key's value).
func ReadInfo(ctx context.Context, client *goredis.Client) (string, error) {
	text, err := client.Info(ctx, "everything").Result()
	return text, Wrap(client, err)
}

// ReadSlowLog returns the last n entries of SLOWLOG GET, newest first,
// without their arguments.
func ReadSlowLog(ctx context.Context, client *goredis.Client, n int64) ([]SlowEntry, error) {
	logs, err := client.SlowLogGet(ctx, n).Result()
	if err != nil {
		return nil, Wrap(client, err)
	}
	out := make([]SlowEntry, 0, len(logs))
	for _, l := range logs {
		e := SlowEntry{ID: l.ID, At: l.Time.UTC(), Duration: l.Duration, Client: l.ClientAddr, Name: l.ClientName}
		if len(l.Args) > 0 {
			e.Command, e.Args = strings.ToUpper(l.Args[0]), len(l.Args)-1
		}
		out = append(out, e)
	}
	return out, nil
}

// ReadLatencyLatest returns LATENCY LATEST as lines "event  at  latest
// max" (empty when latency monitoring is off: latency-monitor-threshold 0).
func ReadLatencyLatest(ctx context.Context, client *goredis.Client) ([]string, error) {
	v, err := client.Do(ctx, "LATENCY", "LATEST").Slice()
	if err != nil {
		return nil, Wrap(client, err)
	}
	var out []string
	for _, e := range v {
		f, ok := e.([]any)
		if !ok || len(f) < 4 {
			continue
		}
		at := fmt.Sprint(f[1])
		if s, ok := f[1].(int64); ok {
			at = time.Unix(s, 0).UTC().Format(time.RFC3339)
		}
		out = append(out, fmt.Sprintf("%v  at %s  latest %vms  max %vms", f[0], at, f[2], f[3]))
	}
	return out, nil
}

// ReadClientList returns CLIENT LIST's text: one line per connection, its
// address, name, user, database, idle time and last command's name (no
// argument of any command).
func ReadClientList(ctx context.Context, client *goredis.Client) (string, error) {
	text, err := client.ClientList(ctx).Result()
	return text, Wrap(client, err)
}
