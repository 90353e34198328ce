package restore

import (
	"context"
	"errors"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/opsdeck/opsdeck/ops/backup"
)

// redisRestore restores the Redis component. There is no access to the
// server's disk, so the set's RDB is replayed key by key with RESTORE
// after a FLUSHALL; the plan's typed confirmation is what allows the
// flush. The undo flushes again and replays the safety backup the same
// way, which puts the keys back as they were.
type redisRestore struct {
	en *env
	// server is host:port, never the password.
	server string
	url    string
	// comp is the set's Redis component: its RDB file and facts.
	comp *backup.Component

	// flushed is set once the run flushed the server: from then on the
	// undo has something to put back.
	flushed bool
	// last is what the run's replay did, for its verification.
	last *replayResult
}

func newRedisRestore(en *env) (*redisRestore, error) {
	url := en.cfg().Redis.URL
	if url == "" {
		return nil, &ConfigError{errors.New("redis.url is not configured — set it (or REDIS_URL) to the Redis to restore into")}
	}
	o, err := goredis.ParseURL(url)
	if err != nil {
		return nil, &ConfigError{errors.New("redis.url does not parse — use redis://[user:password@]host:6379/0 (the URL is not shown: it may hold a password)")}
	}
	set := en.plan.Set
	comp, ok := set.Component(Redis)
	if !ok || comp.Redis == nil || len(comp.Files) != 1 || comp.Files[0].Format != "rdb" {
		return nil, fmt.Errorf("set %s holds no Redis snapshot (an RDB file) to restore — pick another set", set.ID)
	}
	return &redisRestore{en: en, server: o.Addr, url: url, comp: comp}, nil
}

// totalKeys adds up the keys of every database.
func totalKeys(keys map[int]int64) int64 {
	var n int64
	for _, k := range keys {
		n += k
	}
	return n
}

// steps returns the one step of a Redis restore: flush, replay, verify.
func (r *redisRestore) steps() []*Step {
	undo := "Flush Redis again and load the safety backup's keys back"
	if r.en.plan.Options.NoSafetyBackup {
		undo = "None possible: the safety backup is skipped, the flushed keys cannot be put back"
	}
	return []*Step{{
		Name: "redis.restore", Component: Redis,
		Title: fmt.Sprintf("Flush every database of Redis at %s (FLUSHALL) and load the %d keys of set %s with RESTORE",
			r.server, totalKeys(r.comp.Redis.Keys), r.en.plan.SetID),
		Undo: undo,
		pre:  r.pre,
		do: func(ctx context.Context) error {
			r.flushed, r.last = false, nil
			res, err := r.replay(ctx, r.en.plan.SetID, r.comp, func() { r.flushed = true }, true)
			r.last = res
			if err != nil {
				return err
			}
			r.en.note("%d keys restored, %d skipped as already expired", totalKeys(res.restored), totalKeys(res.expired))
			return nil
		},
		verify: func(ctx context.Context) error {
			return r.verifyCounts(ctx, r.comp.Redis.Keys, r.last)
		},
		undo: r.undo,
		// The undo replays the whole safety snapshot; each call has its
		// own timeout, so the bound is only against a hang.
		undoTimeout: 6 * time.Hour,
	}}
}

// pre refuses to flush when the flush could not be undone although the
// operator asked for a safety backup.
func (r *redisRestore) pre(ctx context.Context) error {
	if r.en.plan.Options.NoSafetyBackup {
		return nil
	}
	if _, err := r.safetyComponent(); err != nil {
		return fmt.Errorf("%w — nothing was flushed", err)
	}
	return nil
}

// safetyComponent returns the Redis snapshot of this run's safety backup.
func (r *redisRestore) safetyComponent() (*backup.Component, error) {
	s := r.en.safety[Redis]
	if s == nil {
		return nil, errors.New("the pre-restore Redis data cannot be put back: the safety backup was skipped")
	}
	c, ok := s.Component(Redis)
	if !ok || c.Status != backup.StatusOK || c.Redis == nil || len(c.Files) != 1 {
		return nil, fmt.Errorf("the pre-restore Redis data cannot be put back: the safety backup %s holds no good Redis snapshot", s.ID)
	}
	return c, nil
}

// undo puts the keys of before the restore back: a flush and a replay of
// the safety backup. Nothing was changed when the step stopped before its
// flush.
func (r *redisRestore) undo(ctx context.Context) error {
	if !r.flushed {
		r.en.note("Redis was not flushed: nothing to put back")
		return nil
	}
	c, err := r.safetyComponent()
	if err != nil {
		return fmt.Errorf("%w — Redis holds what the restore loaded so far: run the restore again, or restore another set", err)
	}
	id := r.en.safety[Redis].ID
	res, err := r.replay(ctx, id, c, nil, false)
	if err != nil {
		return fmt.Errorf("put the safety backup %s back: %w — load it with `opsdeck restore redis %s`", id, err, id)
	}
	r.en.note("safety backup %s put back: %d keys", id, totalKeys(res.restored))
	return r.verifyCounts(ctx, c.Redis.Keys, res)
}
