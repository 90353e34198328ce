#!/bin/sh
# opsdeck postrm / %postun: systemd told the units are gone; on purge the
# system user goes too. /var/lib/opsdeck (the audit log, a local backup
# store) is left in place: remove it by hand when it is no longer needed.
set -e
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload >/dev/null || true
fi
if [ "$1" = purge ]; then
  if getent passwd opsdeck >/dev/null; then
    userdel opsdeck >/dev/null 2>&1 || true
  fi
  if getent group opsdeck >/dev/null; then
    groupdel opsdeck >/dev/null 2>&1 || true
  fi
fi
