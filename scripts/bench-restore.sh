#!/usr/bin/env bash
# `make bench` (restores): opsdeck's database restore against plain
# `pg_restore -j2` of a `pg_dump -Fc` file into an empty database, on a
# freshly seeded ~1 GB stock-analysis database, in the same run; then the
# safety backup and the whole walkthrough apart (a Go benchmark in
# ops/restore that starts and removes its own PostgreSQL; no Kubernetes).
#
# Environment:
#   OPSDECK_BENCH_SCALE   database size: 16 ≈ 1 GB with indexes (default 16);
#                         needs about 4 GB free in $TMPDIR (/tmp)
#   OPSDECK_BENCH_ROUNDS  rounds of every contender on the same data; with more
#                         than one the medians of the ratios are printed too (default 1)
set -euo pipefail
cd "$(dirname "$0")/.."
export OPSDECK_BENCH_RESTORE=1
# The benchmark starts its own server: the package's shared sandbox
# (PostgreSQL, Redis, a Kubernetes API server) would only take CPU.
export OPSDECK_SKIP_INTEGRATION=1
exec go test -run '^$' -bench '^BenchmarkRestoreVsPgRestore$' -benchtime 1x -timeout 90m ./ops/restore/
