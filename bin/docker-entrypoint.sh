#!/bin/sh
# The image's entrypoint: runs the command (quire serve, fly.toml's release_command) as the
# unprivileged user. A volume mounted at DATA_DIR arrives owned by root (a fresh Fly volume is an
# empty filesystem; one written by an image that ran as root holds root's files), so as root it
# first hands DATA_DIR and REPORTS_DIR to that user (a whole tree only when its top is not theirs
# yet), then drops to it for good.
set -eu
user="${QUIRE_USER:-node}"
if [ "$(id -u)" = 0 ]; then
  for dir in "${DATA_DIR:-/data}" "${REPORTS_DIR:-${DATA_DIR:-/data}/reports}"; do
    mkdir -p "$dir"
    [ "$(stat -c %U "$dir")" = "$user" ] || chown -R "$user:" "$dir"
  done
  exec setpriv --reuid="$user" --regid="$(id -g "$user")" --init-groups --inh-caps=-all -- "$@"
fi
exec "$@"
