#!/usr/bin/env bash
# `make bench`, log view part: the Health tab's log view following a pod
# that writes 5,000 lines a second (tui/health's BenchmarkLogFollow5k and,
# with a search active, BenchmarkLogFollow5kSearch): the time of a frame
# (Update and View of the lines gathered in one frame) and the process's CPU
# over the run, writer included. Goals: a frame <= 16 ms, CPU <= 25 % of a
# core.
#
# Environment:
#   BENCH_FRAMES  frames measured per benchmark (default 200, 20 a second)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=$(go test -run '^$' -bench 'LogFollow' -benchtime "${BENCH_FRAMES:-200}x" ./tui/health)
echo "$out"
echo "$out" | awk '/^BenchmarkLogFollow/ {
  for (i = 1; i <= NF; i++) v[$(i)] = $(i-1)
  printf "\n%s: %.2f ms a frame (worst %.2f; goal <= 16), %.1f %% of a core (goal <= 25), %.1f frames a second\n",
    $1, v["ms/frame"], v["max-ms/frame"], v["%cpu"], v["frames/s"]
}'
