#!/usr/bin/env bash
# `make bench` (drills): a database drill of the ~1 GB benchmark set into
# a temporary instance against plain `pg_restore -j2` of a `pg_dump -Fc`
# file into a fresh database on the same server, medians of 3 rounds (a
# Go benchmark in ops/restore that starts and removes its own PostgreSQL).
#
# Environment:
#   OPSDECK_BENCH_SCALE   database size: 16 ≈ 1 GB with indexes (default 16)
#   OPSDECK_BENCH_ROUNDS  rounds (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
export OPSDECK_BENCH_RESTORE=1
export OPSDECK_SKIP_INTEGRATION=1
exec go test -run '^$' -bench '^BenchmarkDrillVsPgRestore$' -benchtime 1x -timeout 90m ./ops/restore/
