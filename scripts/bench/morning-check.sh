#!/usr/bin/env bash
# The morning check as a bash script, the way it is done without opsdeck:
# psql, redis-cli and kubectl one after another, each fact its own call.
# `make bench` times it against `opsdeck check` on the same sandbox.
#
# Environment:
#   DATABASE_URL  PostgreSQL connection string (postgres://user:pass@host:port/db)
#   REDIS_URL     redis://[:password@]host:port[/db]
#   KUBECONFIG    kubeconfig of the cluster
#   NAMESPACE     the application's namespace (default stockapp)
#   KUBECTL       kubectl binary (default: kubectl on PATH)
set -uo pipefail

: "${DATABASE_URL:?set DATABASE_URL}" "${REDIS_URL:?set REDIS_URL}" "${KUBECONFIG:?set KUBECONFIG}"
ns=${NAMESPACE:-stockapp}
kubectl=${KUBECTL:-kubectl}
export KUBECONFIG
status=0

sql() { psql "$DATABASE_URL" -X -q -t -A -v ON_ERROR_STOP=1 -c "$1"; }
section() { printf '\n== %s\n' "$1"; }

section "PostgreSQL"
version=$(sql 'SHOW server_version') || status=2
echo "version:            ${version:-unreachable}"
conns=$(sql 'SELECT count(*) FROM pg_stat_activity') || status=2
maxc=$(sql 'SHOW max_connections') || status=2
echo "connections:        ${conns:-?}/${maxc:-?}"
echo "cache hit ratio:    $(sql "SELECT coalesce(round(100.0 * sum(blks_hit) / nullif(sum(blks_hit) + sum(blks_read), 0), 1)::text, 'n/a') || '%' FROM pg_stat_database")"
echo "longest xact:       $(sql "SELECT coalesce(max(now() - xact_start)::text, 'none') FROM pg_stat_activity WHERE xact_start IS NOT NULL AND pid <> pg_backend_pid()")"
echo "replication:"
repl=$(sql "SELECT client_addr || ' ' || state || ' ' || sync_state || ' lag ' || coalesce(replay_lag::text, '0') FROM pg_stat_replication") || status=2
echo "${repl:-  (no replicas)}"

section "Redis"
info=$(redis-cli -u "$REDIS_URL" --no-auth-warning INFO) || status=2
info=${info//$'\r'/}
field() { awk -F: -v k="$1" '$1 == k { print $2 }' <<<"$info"; }
echo "version:            $(field redis_version)"
echo "memory:             $(field used_memory_human) of max $(field maxmemory_human)"
hits=$(field keyspace_hits) misses=$(field keyspace_misses)
if (( ${hits:-0} + ${misses:-0} > 0 )); then
  echo "hit rate:           $(( 100 * hits / (hits + misses) ))%"
else
  echo "hit rate:           n/a"
fi
echo "clients:            $(field connected_clients), evicted keys $(field evicted_keys), role $(field role)"

section "Kubernetes nodes"
"$kubectl" get nodes || status=2
section "Kubernetes pods ($ns)"
"$kubectl" get pods -n "$ns" || status=2
section "Kubernetes warning events ($ns)"
"$kubectl" get events -n "$ns" --field-selector type=Warning || status=2

exit "$status"
