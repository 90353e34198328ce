#!/usr/bin/env bash
# `make bench`, incident part: the diagnostic bundle on a sandbox of 10,000
# pods on 50 nodes, 20 of them crash-looping with logs and previous logs on
# the fake kubelet, against scripts/bundle-by-hand.sh (kubectl describe and
# logs, psql, redis-cli) on the same sandbox in the same run (interleaved;
# medians of BENCH_RUNS rounds). Goals: the bundle within 10 s and 200 MB
# of RSS, and at most 0.3 of the script's time.
#
# kubectl is built from tools/kubebin at the API server's version, once,
# into the cache outside the repository (as scripts/bench.sh does).
#
# Environment:
#   BENCH_RUNS               rounds (default 3)
#   OPSDECK_BENCH_PODS       extra pods (default 10000)
#   OPSDECK_BENCH_UNHEALTHY  crash-looping pods (default 20)
#   OPSDECK_CACHE            cache dir (default ~/.cache/opsdeck)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
for tool in psql redis-cli; do
  command -v "$tool" >/dev/null 2>&1 || { echo "bench-bundle: $tool is missing (make deps)" >&2; exit 1; }
done
cache=${OPSDECK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/opsdeck}
bin="$cache/bench/bin"
mkdir -p "$bin"
kubectl="$bin/kubectl"
if [[ ! -x $kubectl ]]; then
  echo "bench-bundle: building kubectl into $bin (first time only, a few minutes)" >&2
  if ! (cd tools/kubebin && GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath -ldflags=-s -o "$kubectl.tmp" k8s.io/kubernetes/cmd/kubectl) >"$cache/bench/kubectl-build.log" 2>&1; then
    tail -n 5 "$cache/bench/kubectl-build.log" >&2 || true
    rm -f "$kubectl.tmp"
    echo "bench-bundle: kubectl did not build (see $cache/bench/kubectl-build.log)" >&2
    exit 1
  fi
  mv "$kubectl.tmp" "$kubectl"
fi
out=$(KUBECTL="$kubectl" OPSDECK_BENCH_ONLY=1 go test -run '^$' -bench 'BundleVsByHand' -benchtime "${BENCH_RUNS:-3}x" -timeout 40m ./ops/bundle)
echo "$out"
echo "$out" | awk '/^BenchmarkBundleVsByHand/ {
  for (i = 1; i <= NF; i++) v[$(i)] = $(i-1)
  printf "\ndiagnostic bundle: %.2fs, %.0f MiB peak RSS (goals <= 10s, <= 200 MB), %d parts, %d failed; by hand %.2fs: ratio %.2f (goal <= 0.3)\n",
    v["bundle-s/op"], v["bundle-MiB"], v["parts"], v["failed"], v["by-hand-s/op"], v["ratio"]
}'
