package health

import (
	"context"
	"slices"

	"github.com/opsdeck/opsdeck/ops/config"
)

// Targets are the systems the morning check knows, in report order.
var Targets = []string{"postgres", "redis", "kubernetes"}

// Checkers returns the checkers of the configured targets, restricted to
// only when it is not empty. A target with nothing configured is left out;
// Kubernetes is always tried, since kubectl's loading rules may find a
// kubeconfig the file does not name.
func Checkers(cfg *config.Config, only ...string) []Checker {
	want := func(t string) bool { return len(only) == 0 || slices.Contains(only, t) }
	var cs []Checker
	if want("postgres") && cfg.Postgres.Configured() {
		cs = append(cs, Checker{Target: "postgres", Check: func(ctx context.Context) []Result { return CheckPostgres(ctx, cfg) }})
	}
	if want("redis") && cfg.Redis.URL != "" {
		cs = append(cs, Checker{Target: "redis", Check: func(ctx context.Context) []Result { return CheckRedis(ctx, cfg) }})
	}
	if want("kubernetes") {
		cs = append(cs, Checker{Target: "kubernetes", Check: func(ctx context.Context) []Result { return CheckKube(ctx, cfg) }})
	}
	return cs
}

// Run checks the configured targets concurrently, each within
// cfg.Timeouts.Check.
func Run(ctx context.Context, cfg *config.Config, only ...string) Report {
	return RunCheckers(ctx, cfg.Timeouts.Check, Checkers(cfg, only...))
}
