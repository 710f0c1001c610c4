#!/bin/sh
# Renders the shipped systemd units against this build's binaries and checks
# them with systemd-analyze verify (unknown directives, bad values, missing
# executables). Usage: check_systemd_units.sh SOURCE_DIR PUSHGATE_SYNC PUSHGATE_REAPER
set -eu
src=$1 sync=$2 reaper=$3
command -v systemd-analyze >/dev/null 2>&1 || { echo "systemd-analyze not installed; skipped"; exit 77; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/libexec" "$work/units"
ln -s "$sync" "$work/libexec/pushgate-sync"
ln -s "$reaper" "$work/libexec/pushgate-reaper"
for unit in pushgate-sync.service pushgate-reaper.service; do
  sed -e "s#@GIT_USER@#root#g" -e "s#@LIBEXEC@#$work/libexec#g" -e "s#@CONFIG@#/etc/pushgate/pushgate.toml#g" \
      -e "s#@DATA_DIR@#/var/lib/pushgate#g" "$src/dist/systemd/$unit.in" > "$work/units/$unit"
  if grep -q '@[A-Z_]*@' "$work/units/$unit"; then
    echo "$unit: unrendered placeholder" >&2
    exit 1
  fi
done
cp "$src/dist/systemd/pushgate-reaper.timer" "$work/units/"
# verify exits 0 on unknown keys and bad values and only says so: any word
# from it is a failure.
out=$(systemd-analyze verify "$work/units/pushgate-sync.service" "$work/units/pushgate-reaper.service" \
  "$work/units/pushgate-reaper.timer" 2>&1) || { echo "$out" >&2; exit 1; }
if [ -n "$out" ]; then
  echo "$out" >&2
  exit 1
fi
echo "systemd units verified"
