#!/usr/bin/env bash
# Builds the nfpm packager pinned in tools/nfpm once and caches it outside
# the repository (like scripts/kube-test-bins.sh). Prints its path.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
version=$(awk '$1 == "require" && $2 == "github.com/goreleaser/nfpm/v2" {print $3}' "$root/tools/nfpm/go.mod")
cache=${OPSDECK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/opsdeck}
bin="$cache/nfpm/$version/nfpm"
if [[ -x $bin ]]; then
  echo "$bin"
  exit 0
fi
mkdir -p "$(dirname "$bin")"
tmp=$(mktemp -d "$(dirname "$bin")/build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo "building nfpm $version into $(dirname "$bin") (first time only)" >&2
(cd "$root/tools/nfpm" && GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath -ldflags=-s -o "$tmp/nfpm" github.com/goreleaser/nfpm/v2/cmd/nfpm)
mv "$tmp/nfpm" "$bin"
echo "$bin"
