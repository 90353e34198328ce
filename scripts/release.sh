#!/usr/bin/env bash
# make release: opsdeck's release artifacts in $DIST (default dist/) for
# $TARGETS (default linux/amd64 linux/arm64 darwin/arm64):
#   opsdeck_<version>_<os>_<arch>.tar.gz   the binary, README.md, LICENSE,
#                                          completions/ and man/man1/
#   opsdeck_<version>_<os>_<arch>.cdx.json CycloneDX SBOM of that binary
#   SHA256SUMS
# Binaries are static (CGO_ENABLED=0), -trimpath, stripped, without the
# demo sandbox (-tags nodemo). Reproducible: everything is dated
# SOURCE_DATE_EPOCH (the commit's time unless set), so two builds of one
# commit give the same bytes (packaging/release_test.go checks it).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
GO=${GO:-go}
DIST=${DIST:-dist}
TARGETS=${TARGETS:-linux/amd64 linux/arm64 darwin/arm64}
eval "$(scripts/version.sh)"
export SOURCE_DATE_EPOCH
mkdir -p "$DIST"
DIST=$(cd "$DIST" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/opsdeck-release.XXXXXX")
trap 'rm -rf "$work"' EXIT
# The release build's flags, shared by the helpers so that one compile
# cache serves them all.
flags=(-trimpath -buildvcs=false -tags nodemo)

echo "release: $VERSION ($COMMIT), dated $DATE" >&2
# Man pages and completions: from the command tree, once for every target.
CGO_ENABLED=0 $GO build "${flags[@]}" -o "$work/gendocs" scripts/gendocs.go
"$work/gendocs" -out "$work/docs" -version "$VERSION" -date "$SOURCE_DATE_EPOCH"
$GO build -trimpath -o "$work/sbom" scripts/sbom.go

sums=()
for target in $TARGETS; do
  os=${target%/*} arch=${target#*/}
  name=opsdeck_${VERSION}_${os}_${arch}
  dir=$work/$name
  mkdir -p "$dir"
  echo "release: building $target" >&2
  CGO_ENABLED=0 GOOS=$os GOARCH=$arch $GO build "${flags[@]}" \
    -ldflags "-s -w $LDFLAGS" -o "$dir/opsdeck" ./cmd/opsdeck
  cp README.md LICENSE "$dir/"
  cp -r "$work/docs/completions" "$work/docs/man" "$dir/"
  # Same modes and times whatever the umask and the checkout's dates.
  find "$dir" -type d -exec chmod 0755 {} + && find "$dir" -type f -exec chmod 0644 {} + && chmod 0755 "$dir/opsdeck"
  tar --sort=name --mtime="@$SOURCE_DATE_EPOCH" --owner=0 --group=0 --numeric-owner \
    --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
    -C "$work" -cf - "$name" | gzip -n -9 > "$DIST/$name.tar.gz"
  "$work/sbom" -license Apache-2.0 -version "$VERSION" -date "$SOURCE_DATE_EPOCH" "$dir/opsdeck" > "$DIST/$name.cdx.json"
  # The package step (scripts/package.sh) takes the binaries from here.
  mkdir -p "$DIST/bin/${os}_${arch}" && cp -p "$dir/opsdeck" "$DIST/bin/${os}_${arch}/opsdeck"
  sums+=("$name.tar.gz" "$name.cdx.json")
  ls -l "$dir/opsdeck" | awk -v t="$target" '{printf "release: %s binary %.1f MB\n", t, $5/1e6}' >&2
done
(cd "$DIST" && sha256sum "${sums[@]}" > SHA256SUMS)
echo "release: wrote $DIST" >&2
