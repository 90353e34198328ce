#!/bin/sh
# opsdeck postinst / %post: the config readable by the services' group;
# systemd told about the units where it runs. Nothing is enabled or
# started: edit /etc/opsdeck/config.yaml first, then
#   systemctl enable --now opsdeck-backup-database.timer ...
set -e
if [ -f /etc/opsdeck/config.yaml ]; then
  chgrp opsdeck /etc/opsdeck/config.yaml
  chmod 0640 /etc/opsdeck/config.yaml
fi
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload >/dev/null || true
fi
