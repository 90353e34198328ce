#!/usr/bin/env bash
# `make bench` (backups): opsdeck's database backup against pg_dump -Fc and
# pg_dump -Fc -Z0 on a freshly seeded ~1 GB stock-analysis database, and its
# Redis snapshot against redis-cli --rdb on 1,000,000 keys, in the same run
# (Go benchmarks in ops/backup that start and remove their own servers).
#
# Environment:
#   OPSDECK_BENCH_SCALE  database size: 16 ≈ 1 GB with indexes (default 16)
#   OPSDECK_BENCH_KEYS   Redis keys (default 1000000)
set -euo pipefail
cd "$(dirname "$0")/.."
export OPSDECK_BENCH_BACKUP=1
exec go test -run '^$' -bench 'BenchmarkDatabaseVsPgDump|BenchmarkRedisVsRedisCLI' -benchtime 1x -timeout 60m ./ops/backup/
