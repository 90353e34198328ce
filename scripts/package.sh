#!/usr/bin/env bash
# make package: .deb and .rpm of opsdeck for each linux tarball that
# make release left in $DIST (default dist/), built with nfpm (pinned in
# tools/nfpm, scripts/nfpm.sh) from packaging/nfpm.yaml: the binary, man
# pages, completions, /etc/opsdeck/config.yaml (from `opsdeck config
# example`), the systemd units of packaging/systemd and the maintainer
# scripts of packaging/scripts. ARCHES picks some (default: every linux
# tarball there), PACKAGERS the formats (default: deb rpm).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
DIST=${DIST:-dist}
DIST=$(cd "$DIST" && pwd)
eval "$(scripts/version.sh)"
nfpm=$(scripts/nfpm.sh)
work=$(mktemp -d "${TMPDIR:-/tmp}/opsdeck-package.XXXXXX")
trap 'rm -rf "$work"' EXIT

# The package version: v1.2.3 -> 1.2.3, v1.2.3-4-gabc -> 1.2.3+4.gabc; a
# commit without a tag -> 0.0.0~git<date>.<hash> (sorts before any release).
v=${VERSION#v}
if [[ $v =~ ^[0-9] ]]; then
  pkgver=$(echo "$v" | sed 's/-/+/; s/-/./g')
else
  pkgver=0.0.0~git$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y%m%d).${v//-/.}
fi
rfc2822=$(date -u -d "@$SOURCE_DATE_EPOCH" -R)

arches=${ARCHES:-$(ls "$DIST" | sed -n "s/^opsdeck_${VERSION}_linux_\(.*\)\.tar\.gz$/\1/p")}
[[ -n $arches ]] || { echo "package: no linux tarball of $VERSION in $DIST: run make release first" >&2; exit 1; }
for arch in $arches; do
  stage=$work/$arch
  mkdir -p "$stage"
  tar -xzf "$DIST/opsdeck_${VERSION}_linux_${arch}.tar.gz" -C "$stage" --strip-components=1
  gzip -n -9 "$stage"/man/man1/*.1
  # config example is the same on every platform: any binary that runs here.
  if ! "$stage/opsdeck" config example > "$stage/config.yaml" 2>/dev/null; then
    go run ./cmd/opsdeck config example > "$stage/config.yaml"
  fi
  mkdir -p "$stage/doc"
  cp LICENSE README.md packaging/debian/copyright "$stage/doc/"
  printf 'opsdeck (%s) unstable; urgency=medium\n\n  * opsdeck %s, commit %s.\n\n -- opsdeck maintainers <opsdeck@users.noreply.github.com>  %s\n' \
    "$pkgver" "$VERSION" "$COMMIT" "$rfc2822" | gzip -n -9 > "$stage/doc/changelog.gz"
  for packager in ${PACKAGERS:-deb rpm}; do
    unitdir=/usr/lib/systemd/system
    [[ $packager == deb ]] && unitdir=/lib/systemd/system
    rm -rf "$stage/systemd" && cp -r packaging/systemd "$stage/systemd"
    # nfpm expands the environment in some fields only: fill them all here.
    sed -e "s|\${ARCH}|$arch|g; s|\${PKG_VERSION}|$pkgver|g; s|\${STAGE}|$stage|g" \
      -e "s|\${PKGDIR}|$root/packaging|g; s|\${UNIT_DIR}|$unitdir|g" packaging/nfpm.yaml > "$stage/nfpm.yaml"
    SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH "$nfpm" package --config "$stage/nfpm.yaml" --packager "$packager" --target "$DIST/" >&2
  done
done
ls "$DIST"/*.deb "$DIST"/*.rpm 2>/dev/null || true
