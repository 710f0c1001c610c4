#!/bin/sh
# scripts/demo as a new operator meets it, with its output in a log (not a
# terminal): it deploys, prints what to do next without colour codes, a
# re-run keeps what the operator added, and `clean` removes everything,
# the user and group included. Installs the build under test instead of
# building one. Needs root (exit 77: skipped).
#   check_demo.sh SOURCE_DIR BUILD_DIR
set -eu
src=$1
build=$2
if [ "$(id -u)" -ne 0 ]; then
  echo "check_demo: needs root (the demo runs sshd and creates a user)"
  exit 77
fi

export PUSHGATE_DEMO_BUILD_DIR="$build"
PUSHGATE_DEMO_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export PUSHGATE_DEMO_PORT
demo=$src/scripts/demo
pushgate=/opt/pushgate-demo/bin/pushgate
config=/opt/pushgate-demo/etc/pushgate.toml
log=$(mktemp)
trap '"$demo" clean >/dev/null 2>&1 || true; rm -f "$log"' EXIT

fail() {
  echo "check_demo: $*" >&2
  cat "$log" >&2
  exit 1
}

"$demo" clean >/dev/null
"$demo" </dev/null >"$log" 2>&1 || fail "the first run failed"
if grep -q "$(printf '\033')" "$log"; then fail "colour codes in output that is not a terminal"; fi
grep -q "^current release: v1-" "$log" || fail "the first run did not deploy v1"
grep -q "export PUSHGATE_CONFIG=$config" "$log" || fail "the closing text does not say how to set PUSHGATE_CONFIG"
grep -q "$pushgate app create NAME --member demo" "$log" || fail "the closing text does not say how to create an app"

# Between runs the operator adds an app and a user; a re-run keeps them.
PUSHGATE_CONFIG=$config "$pushgate" app create mine --member demo >/dev/null
PUSHGATE_CONFIG=$config "$pushgate" user add carol >/dev/null
"$demo" </dev/null >"$log" 2>&1 || fail "the second run failed"
grep -q "keeping the users, keys and apps of the last run" "$log" || fail "the re-run does not say it keeps the registry"
grep -q "^current release: v2-" "$log" || fail "the re-run did not deploy v2"
PUSHGATE_CONFIG=$config "$pushgate" app ls | grep -q "^mine " || fail "the re-run lost the app the operator created"
PUSHGATE_CONFIG=$config "$pushgate" user ls | grep -qx carol || fail "the re-run lost the user the operator added"

"$demo" clean >"$log" 2>&1 || fail "clean failed"
if id pushgate-demo >/dev/null 2>&1; then fail "clean left the user pushgate-demo"; fi
if getent group pushgate-demo >/dev/null 2>&1; then fail "clean left the group pushgate-demo"; fi
if [ -e /opt/pushgate-demo ] || [ -e /var/lib/pushgate-demo ]; then fail "clean left files"; fi
echo "check_demo: ok"
