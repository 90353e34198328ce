#!/usr/bin/env bash
# Prints what make build and make release stamp into the binary, as shell
# assignments: VERSION (git describe --tags --always --dirty), COMMIT (the
# full hash), SOURCE_DATE_EPOCH (the commit's time, unless set already: two
# builds of one commit are identical), DATE (that time, RFC 3339 UTC) and
# LDFLAGS (the -X flags for internal/version). Outside a git checkout the
# version is "dev". Use: eval "$(scripts/version.sh)".
set -euo pipefail
cd "$(dirname "$0")/.."
pkg=github.com/opsdeck/opsdeck/internal/version
version=dev commit="" epoch=${SOURCE_DATE_EPOCH:-}
if git rev-parse --git-dir >/dev/null 2>&1; then
  version=$(git describe --tags --always --dirty --match 'v[0-9]*')
  commit=$(git rev-parse HEAD)
  [[ -n $epoch ]] || epoch=$(git log -1 --format=%ct HEAD)
fi
[[ -n $epoch ]] || epoch=0
date=$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ 2>/dev/null || date -u -r "$epoch" +%Y-%m-%dT%H:%M:%SZ)
printf 'VERSION=%q\nCOMMIT=%q\nSOURCE_DATE_EPOCH=%q\nDATE=%q\n' "$version" "$commit" "$epoch" "$date"
printf 'LDFLAGS=%q\n' "-X $pkg.Version=$version -X $pkg.Commit=$commit -X $pkg.Date=$date"
