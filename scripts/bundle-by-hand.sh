#!/usr/bin/env bash
# The diagnostic bundle collected by hand, as a responder would script it
# without opsdeck: kubectl describe and logs (and --previous) of every pod
# not Running and ready, the namespace's Warning events, the nodes'
# conditions, the psql queries and the redis-cli commands, into one
# tar.zst. `make bench` (scripts/bench-bundle.sh) times it against
# `opsdeck incident bundle` on the same sandbox. It redacts nothing.
#
# Environment:
#   KUBECTL     kubectl to run (default: kubectl on PATH)
#   KUBECONFIG  the cluster's kubeconfig
#   NAMESPACE   the application's namespace (default stockapp)
#   PGURL       PostgreSQL's connection URL (psql)
#   REDIS_URL   Redis's URL (redis-cli -u)
#   TAIL        last lines of each log (default 2000)
#   OUT         the tar.zst to write
set -euo pipefail
kubectl=${KUBECTL:-kubectl}
ns=${NAMESPACE:-stockapp}
tail=${TAIL:-2000}
: "${OUT:?set OUT to the tar.zst to write}" "${PGURL:?set PGURL}" "${REDIS_URL:?set REDIS_URL}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
k() { "$kubectl" "$@"; }
q() { psql "$PGURL" -X -q -P pager=off -c "$1"; }

# Pods whose STATUS is not Running or Completed, or not all ready.
k get pods -n "$ns" --no-headers |
  awk '{ split($2, r, "/"); if (($3 != "Running" && $3 != "Completed") || r[1] != r[2]) print $1 }' >"$work/unhealthy.txt"
while read -r pod; do
  d="$work/pods/$pod"
  mkdir -p "$d"
  k describe pod -n "$ns" "$pod" >"$d/describe.txt" 2>&1 || true
  for c in $(k get pod -n "$ns" "$pod" -o jsonpath='{.spec.containers[*].name}'); do
    k logs -n "$ns" "$pod" -c "$c" --tail="$tail" >"$d/$c.log" 2>&1 || true
    k logs -n "$ns" "$pod" -c "$c" --tail="$tail" --previous >"$d/$c.previous.log" 2>&1 || true
  done
done <"$work/unhealthy.txt"
k get events -n "$ns" --field-selector type=Warning --sort-by=.lastTimestamp >"$work/warning-events.txt"
k get nodes -o jsonpath='{range .items[*]}{.metadata.name}{"\n"}{range .status.conditions[*]}  {.type}={.status} {.reason} {.message}{"\n"}{end}{end}' >"$work/nodes.txt"

mkdir -p "$work/postgres" "$work/redis"
q "SELECT pid, datname, usename, application_name, client_addr, state, wait_event_type, wait_event,
          pg_blocking_pids(pid) AS blocked_by, now() - query_start AS query_age, now() - xact_start AS xact_age, query
     FROM pg_stat_activity WHERE backend_type = 'client backend' ORDER BY pid" >"$work/postgres/activity.txt"
q "SELECT l.pid, l.locktype, l.relation::regclass, l.mode, l.granted, a.state, a.query
     FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid ORDER BY l.granted, l.pid" >"$work/postgres/locks.txt"
q "SELECT pid, now() - xact_start AS xact_age, state, usename, datname, query FROM pg_stat_activity
    WHERE xact_start IS NOT NULL ORDER BY xact_start LIMIT 20" >"$work/postgres/longest-transactions.txt"
if [[ $(psql "$PGURL" -X -A -t -c "SELECT count(*) FROM pg_extension WHERE extname = 'pg_stat_statements'") == 1 ]]; then
  q "SELECT total_exec_time, calls, mean_exec_time, rows, query FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 20" >"$work/postgres/statements.txt"
else
  echo "pg_stat_statements is not installed" >"$work/postgres/statements.txt"
fi
q "SELECT * FROM pg_stat_replication" >"$work/postgres/replication.txt"
q "SELECT * FROM pg_replication_slots" >>"$work/postgres/replication.txt"
q "SELECT * FROM pg_stat_archiver" >"$work/postgres/archive.txt"

redis-cli -u "$REDIS_URL" INFO everything >"$work/redis/info.txt"
redis-cli -u "$REDIS_URL" SLOWLOG GET 128 >"$work/redis/slowlog.txt"
redis-cli -u "$REDIS_URL" LATENCY LATEST >"$work/redis/latency-latest.txt"
redis-cli -u "$REDIS_URL" CLIENT LIST >"$work/redis/client-list.txt"

(umask 077 && tar --zstd -cf "$OUT" -C "$work" .)
