package health

import (
	"context"

	"github.com/opsdeck/opsdeck/ops/config"
)

// CheckRedis is replaced by the real check once ops/redis lands.
func CheckRedis(ctx context.Context, cfg *config.Config) []Result {
	return []Result{{Name: "reachable", Status: Unknown, Value: "pending"}}
}
