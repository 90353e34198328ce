package sandbox

import (
	"context"
	"fmt"
	"slices"

	goredis "github.com/redis/go-redis/v9"
)

// RedisValue renders a key's type and content in a form that does not
// depend on the order of a hash table, for tests that compare a keyspace
// before and after a backup, a replay or a restore. A missing key is
// "none"; a type it does not know is an error.
func RedisValue(ctx context.Context, c *goredis.Client, key string) (string, error) {
	typ, err := c.Type(ctx, key).Result()
	if err != nil {
		return "", err
	}
	var v any
	switch typ {
	case "none":
		return typ, nil
	case "string":
		v, err = c.Get(ctx, key).Result()
	case "list":
		v, err = c.LRange(ctx, key, 0, -1).Result()
	case "set":
		var m []string
		m, err = c.SMembers(ctx, key).Result()
		slices.Sort(m)
		v = m
	case "zset":
		v, err = c.ZRangeWithScores(ctx, key, 0, -1).Result()
	case "hash":
		var m map[string]string
		m, err = c.HGetAll(ctx, key).Result()
		v = fmt.Sprint(m) // fmt sorts map keys
	case "stream":
		var entries []goredis.XMessage
		if entries, err = c.XRange(ctx, key, "-", "+").Result(); err == nil {
			var groups []goredis.XInfoGroup
			groups, err = c.XInfoGroups(ctx, key).Result()
			v = fmt.Sprint(entries, groups)
		}
	default:
		return "", fmt.Errorf("%q: type %q", key, typ)
	}
	if err != nil {
		return "", fmt.Errorf("%q: %w", key, err)
	}
	return typ + " " + fmt.Sprint(v), nil
}
