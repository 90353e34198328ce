#!/usr/bin/env bash
# `make bench` (WAL archive): the streamer under pgbench -c 4 -j 2 at full
# speed — the loss window from a commit to its bytes being durable in the
# store (p50/p99/max), its CPU against pg_receivewal --synchronous plus zstd
# of each finished segment in the same run, and pgbench's TPS with and
# without it (medians of alternating pairs). A Go benchmark in ops/wal that
# starts and removes its own server.
#
# Environment:
#   OPSDECK_BENCH_QUICK   1: 15 s of load and two 8 s pairs instead of 60 s and three 20 s pairs
set -euo pipefail
cd "$(dirname "$0")/.."
export OPSDECK_BENCH_WAL=1
exec go test -run '^$' -bench 'BenchmarkWALStreaming' -benchtime 1x -timeout 30m ./ops/wal/
