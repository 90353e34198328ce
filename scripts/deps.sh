#!/usr/bin/env bash
# Installs what the tests and the demo need on a fresh Debian machine:
# PostgreSQL server and client (with pgbench), redis-server, the zstd command
# line, lintian and systemd-analyze (apt, as root or via sudo), and the
# kube-apiserver/etcd test binaries and nfpm (built once from the Go module
# proxy and cached outside the repository). Safe to run again: it skips what
# is there.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

need=()
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need+=(postgresql)
command -v pg_dump >/dev/null 2>&1 || need+=(postgresql-client)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || need+=(redis-tools)
command -v tmux >/dev/null 2>&1 || need+=(tmux)
# make bench: pgbench fills its second database (it ships with the server,
# postgresql-NN; postgresql-contrib pulls it in), and the zstd command line
# is its anchor (pg_dump -Fc -Z0 | zstd -T2 -3).
ls /usr/lib/postgresql/*/bin/pgbench >/dev/null 2>&1 || need+=(postgresql-contrib)
command -v zstd >/dev/null 2>&1 || need+=(zstd)
# promtool and amtool check the configuration `opsdeck monitoring render` writes.
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v amtool >/dev/null 2>&1 || need+=(prometheus-alertmanager)
# The .deb's test (packaging/deb_test.go): lintian judges the package,
# systemd-analyze (package systemd; it does not need systemd running)
# verifies its units, dpkg installs and purges it.
command -v lintian >/dev/null 2>&1 || need+=(lintian)
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
# The .rpm's test: rpmlint judges it, rpm unpacks it into a private root.
command -v rpm >/dev/null 2>&1 || need+=(rpm)
command -v rpmlint >/dev/null 2>&1 || need+=(rpmlint)

if ((${#need[@]})); then
  sudo=""
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 || { echo "deps: need root (or sudo) to apt-get install ${need[*]}" >&2; exit 1; }
    sudo=sudo
  fi
  echo "deps: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  # Debian starts packaged servers on install; the sandbox runs its own, so
  # keep the packaged ones from starting where policy-rc.d allows it.
  $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

"$root/scripts/kube-test-bins.sh" >/dev/null
# nfpm, which make package and the .deb's test run (cached like the above).
"$root/scripts/nfpm.sh" >/dev/null
echo "deps: ok" >&2
