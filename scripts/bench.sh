#!/usr/bin/env bash
# `make bench`: the cockpit on a sandbox of 10,000 pods on 50 nodes, side by
# side with k9s, and `opsdeck check` against the equivalent bash script. See
# docs/benchmarks.md. Builds k9s and kubectl once into a cache outside the
# repository, then runs the harness (scripts/bench), which starts the sandbox,
# drives both TUIs in tmux, prints the table and writes bench-results.txt.
#
# Environment:
#   OPSDECK_CACHE  cache dir (default ~/.cache/opsdeck); tools go in $OPSDECK_CACHE/bench/bin
#   K9S_VERSION    k9s version to build (default v0.50.16, the latest when this was
#                  written, which builds with Go 1.26; "latest" works too)
#   BENCH_ARGS     extra harness flags, e.g. "-pods 2000 -starts 1 -check-runs 5"
#   NO_K9S=1       measure opsdeck alone
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cache=${OPSDECK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/opsdeck}
bin="$cache/bench/bin"
mkdir -p "$bin"
socket=opsdeck-bench

harness_pid=""
cleanup() {
  # The harness removes the sandbox and its tmux sessions itself; this only
  # covers a harness that was killed before it could.
  if [[ -n $harness_pid ]] && kill -0 "$harness_pid" 2>/dev/null; then
    kill -INT "$harness_pid" 2>/dev/null || true
    wait "$harness_pid" 2>/dev/null || true
  fi
  tmux -L "$socket" kill-server 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

say() { echo "bench: $*" >&2; }

as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo "$@"; else return 1; fi
}

# tmux drives the TUIs; hyperfine times the checks (optional: the harness
# times them itself without it).
for pkg in tmux hyperfine; do
  if ! command -v "$pkg" >/dev/null 2>&1; then
    say "installing $pkg"
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "$pkg" >/dev/null 2>&1 ||
      { as_root apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "$pkg" >/dev/null 2>&1; } ||
      say "could not install $pkg"
  fi
done
command -v tmux >/dev/null 2>&1 || { say "tmux is required"; exit 1; }

# k9s, from the Go module proxy, once (about 20 minutes on 2 busy cores).
k9s=""
if [[ ${NO_K9S:-} != 1 ]]; then
  if [[ ! -x $bin/k9s ]]; then
    v=${K9S_VERSION:-v0.50.16}
    say "building k9s@$v into $bin (first time only, can take 20 minutes)"
    if ! GOBIN="$bin" GOFLAGS= go install "github.com/derailed/k9s@$v" >"$cache/bench/k9s-build.log" 2>&1; then
      say "k9s@$v did not build (tail of $cache/bench/k9s-build.log; set K9S_VERSION to another release):"
      tail -n 5 "$cache/bench/k9s-build.log" >&2 || true
    fi
  fi
  if [[ -x $bin/k9s ]]; then k9s="$bin/k9s"; else say "no k9s: opsdeck is measured alone"; fi
fi

# kubectl for the bash morning check: built from the tools module, once.
kubectl="$bin/kubectl"
if [[ ! -x $kubectl ]]; then
  say "building kubectl into $bin (first time only, a few minutes)"
  if ! (cd tools/kubebin && GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath -ldflags=-s -o "$kubectl.tmp" k8s.io/kubernetes/cmd/kubectl) >"$cache/bench/kubectl-build.log" 2>&1; then
    tail -n 5 "$cache/bench/kubectl-build.log" >&2 || true
    rm -f "$kubectl.tmp"
    if command -v kubectl >/dev/null 2>&1; then
      kubectl=$(command -v kubectl)
      say "kubectl did not build; using $kubectl"
    else
      say "no kubectl: cannot run the bash morning check"
      exit 1
    fi
  else
    mv "$kubectl.tmp" "$kubectl"
  fi
fi

go build -o "$cache/bench/opsdeck-bench" ./scripts/bench
[[ -x bin/opsdeck ]] || go build -o bin/opsdeck ./cmd/opsdeck

# shellcheck disable=SC2086 # BENCH_ARGS is a list of flags
"$cache/bench/opsdeck-bench" -opsdeck bin/opsdeck -k9s "$k9s" -kubectl "$kubectl" \
  -tmux-socket "$socket" -out bench-results.txt ${BENCH_ARGS:-} &
harness_pid=$!
set +e
wait "$harness_pid"
rc=$?
set -e
harness_pid=""
exit "$rc"
