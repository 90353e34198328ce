#!/usr/bin/env bash
# `make bench` (point-in-time restores): opsdeck's restore database --to-lsn
# against the same recovery and copy done by hand with PostgreSQL's tools
# (unpack the base backup, copy the WAL, recover and promote, pg_dump -Fc
# -Z0, pg_restore -j2), and a restore table's copy step against the
# database's, on a freshly seeded stock-analysis database with pgbench's
# tables and a fixed pgbench -t run archived after the base backup (a Go
# benchmark in ops/restore that starts and removes its own PostgreSQL).
#
# Environment:
#   OPSDECK_BENCH_SCALE        database size: 16 ≈ 1 GB (default 16)
#   OPSDECK_BENCH_PGBENCH_TX   pgbench transactions per client after the base backup (default 20000)
#   OPSDECK_BENCH_WAL_MB       WAL that wal find and pg_waldump read (default 1024)
#
# Then wal find (its own decoder over the archive) against pg_waldump over
# the same segments decompressed, to /dev/null (a Go benchmark in ops/pitr).
set -euo pipefail
cd "$(dirname "$0")/.."
export OPSDECK_BENCH_RESTORE=1 OPSDECK_BENCH_FIND=1
export OPSDECK_SKIP_INTEGRATION=1
go test -run '^$' -bench 'BenchmarkPointInTimeVsByHand' -benchtime 1x -timeout 60m ./ops/restore/
go test -run '^$' -bench 'BenchmarkFindVsPgWaldump' -benchtime 1x -timeout 30m ./ops/pitr/
