#!/usr/bin/env bash
# `make bench`, maintenance part: the Redis keyspace analysis of `opsdeck
# maintain redis` on 1 M keys against `redis-cli --memkeys` on the same
# server in the same run (interleaved; medians of BENCH_RUNS runs). Both
# must agree on the biggest key of each type and the bytes per type.
#
# Environment:
#   BENCH_RUNS          runs of each (default 3)
#   OPSDECK_BENCH_KEYS  keyspace size (default 1000000)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
if ! command -v redis-cli >/dev/null 2>&1; then
  echo "bench-maintain: redis-cli is missing (make deps installs redis-tools)" >&2
  exit 1
fi
out=$(go test -run '^$' -bench 'KeyspaceVsRedisCLI' -benchtime "${BENCH_RUNS:-3}x" -timeout 30m ./ops/redis)
echo "$out"
echo "$out" | awk '/^BenchmarkKeyspaceVsRedisCLI/ {
  for (i = 1; i <= NF; i++) v[$(i)] = $(i-1)
  printf "\nkeyspace analysis of %d keys: opsdeck %.2fs (exact %.2fs), redis-cli --memkeys %.2fs: ratio %.2f (exact %.2f; goal <= 0.5)\n",
    v["keys"], v["opsdeck-s/op"], v["opsdeck-exact-s/op"], v["redis-cli-s/op"], v["ratio"], v["exact-ratio"]
}'
