#!/usr/bin/env bash
# `make bench` (backups): opsdeck's database backup against the anchor
# `pg_dump -Fc -Z0 | zstd -T2 -3 > file`, `pg_dump -Fc > file` and
# `pg_dump -Fc -Z0 > file`, on a freshly seeded ~1 GB stock-analysis database
# and on a pgbench database of the same size (medians of alternating
# rounds); its base backup against the anchor `pg_basebackup -Ft -X none
# -D - | zstd -T2 -3 > file` and the floor `pg_basebackup -Ft -X none -D
# dir` on the stock-analysis database; and its Redis snapshot against redis-cli --rdb on 1,000,000 keys,
# in the same run (Go benchmarks in ops/backup that start and remove their
# own servers; the package's test sandbox is not started); and the same
# database backup directly and through a port-forward over the API server
# (OPSDECK_BENCH_PF_SCALE, default 4), their ratio.
#
# Environment:
#   OPSDECK_BENCH_SCALE   database size: 16 ≈ 1 GB with indexes (default 16)
#   OPSDECK_BENCH_ROUNDS  rounds per database (default 3)
#   OPSDECK_BENCH_QUICK   1: opsdeck and the anchor only, for iterating
#   OPSDECK_BENCH_PGBENCH_SCALE  pgbench -i -s (default: the stock database's size)
#   OPSDECK_BENCH_KEYS    Redis keys (default 1000000)
set -euo pipefail
cd "$(dirname "$0")/.."
export OPSDECK_BENCH_BACKUP=1 OPSDECK_SKIP_INTEGRATION=1
exec go test -run '^$' -bench 'BenchmarkDatabaseVsPgDump|BenchmarkDatabaseThroughPortForward|BenchmarkBaseVsPgBasebackup|BenchmarkRedisVsRedisCLI' -benchtime 1x -timeout 60m ./ops/backup/
