#!/bin/sh
# opsdeck prerm / %preun: on removal (not upgrade) stop the services and
# timers where systemd runs.
set -e
case "$1" in
  remove|0)
    if [ -d /run/systemd/system ]; then
      systemctl stop opsdeck-serve.service opsdeck-wal-stream.service \
        opsdeck-backup-database.timer opsdeck-backup-redis.timer \
        opsdeck-backup-config.timer opsdeck-backup-logs.timer \
        opsdeck-prune.timer opsdeck-verify.timer opsdeck-drill.timer >/dev/null 2>&1 || true
      systemctl disable opsdeck-serve.service opsdeck-wal-stream.service \
        opsdeck-backup-database.timer opsdeck-backup-redis.timer \
        opsdeck-backup-config.timer opsdeck-backup-logs.timer \
        opsdeck-prune.timer opsdeck-verify.timer opsdeck-drill.timer >/dev/null 2>&1 || true
    fi
    ;;
esac
