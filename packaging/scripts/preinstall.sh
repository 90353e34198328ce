#!/bin/sh
# opsdeck preinst / %pre: the system user the services run as.
set -e
if ! getent group opsdeck >/dev/null; then
  groupadd --system opsdeck
fi
if ! getent passwd opsdeck >/dev/null; then
  useradd --system --gid opsdeck --home-dir /var/lib/opsdeck --no-create-home \
    --shell /usr/sbin/nologin --comment "opsdeck services" opsdeck
fi
