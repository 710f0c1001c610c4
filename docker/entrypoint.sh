#!/bin/sh
# pushgate-entrypoint: prepares and starts one pushgate component. It is the
# container image's entrypoint, and scripts/demo and the end-to-end tests
# start their sshd with it too, so the path the image takes is the one tested.
#
#   pushgate-entrypoint [gateway]   check, prepare, then run sshd in the foreground
#   pushgate-entrypoint sshd        the same gateway behind pushgate-sshd, as git_user
#                                   (root not needed: a pod's runAsUser works)
#   pushgate-entrypoint sync        pushgate-sync --daemon, as git_user, logging to stderr
#   pushgate-entrypoint reaper      pushgate-reaper --interval, as git_user, logging to stderr
#   pushgate-entrypoint CMD [ARG]   anything else runs as given (pushgate status, sh)
#
# Environment (all optional):
#   PUSHGATE_CONFIG          configuration file        /etc/pushgate/pushgate.toml
#   PUSHGATE_SSH_LISTEN      addresses sshd binds      0.0.0.0 (space-separated;
#                            pushgate-sshd: one address, default sshd.listen's)
#   PUSHGATE_SSH_PORT        its port                  22 (pushgate-sshd: sshd.listen's)
#   PUSHGATE_HOST_KEY_DIR    host keys, created once   /var/lib/pushgate-host-keys
#   PUSHGATE_RUN_DIR         rendered sshd_config      /run/pushgate
#   PUSHGATE_SSHD_INCLUDE    an sshd_config file read before pushgate's settings
#   PUSHGATE_LOG_FOLLOW      1: copy a file log destination to stderr (containers)
#   PUSHGATE_START_DRAINED   1: keep a drain left by the previous run
#   PUSHGATE_METRICS_LISTEN  sync and reaper: serve Prometheus metrics here
#
# The gateway needs root (OpenSSH's sshd does); sshd, sync and reaper drop to
# git_user when started as root and run as they are otherwise (a pod's
# runAsUser).
set -eu

die() {
  echo "pushgate-entrypoint: $*" >&2
  exit 1
}

# Installed as PREFIX/libexec/pushgate/pushgate-entrypoint.
prefix=$(cd "$(dirname "$0")/../.." && pwd)
pushgate=$prefix/bin/pushgate
libexec=$prefix/libexec/pushgate
config=${PUSHGATE_CONFIG:-/etc/pushgate/pushgate.toml}
listen=${PUSHGATE_SSH_LISTEN:-0.0.0.0}
port=${PUSHGATE_SSH_PORT:-22}
host_key_dir=${PUSHGATE_HOST_KEY_DIR:-/var/lib/pushgate-host-keys}
run_dir=${PUSHGATE_RUN_DIR:-/run/pushgate}

setting() {
  "$pushgate" --config "$config" config get "$1"
}

check_config() {
  [ -f "$config" ] || die "no configuration at $config: mount one or set PUSHGATE_CONFIG (docs/configuration.md)"
  "$pushgate" --config "$config" config check >&2 || die "$config does not work here; fix what is named above"
  data_dir=$(setting data_dir)
  git_user=$(setting git_user)
  id -u "$git_user" >/dev/null 2>&1 || die "git_user '$git_user' from $config has no account here"
  git_group=$(id -gn "$git_user")
  log_destination=$(setting log.destination)
  case "$log_destination" in
    /*) log_dir=$(dirname "$log_destination") ;;
    *) log_dir= ;;
  esac
}

# data_dir must belong to git_user. A fresh volume arrives owned by root, a
# restored one by whoever restored it: in both cases the whole tree is given
# back; otherwise nothing is walked, so a large data_dir starts fast.
fix_ownership() {
  if [ ! -d "$data_dir" ]; then
    install -d -m 0750 -o "$git_user" -g "$git_group" "$data_dir"
  fi
  owner=$(stat -c %U:%G "$data_dir")
  if [ "$owner" != "$git_user:$git_group" ]; then
    echo "pushgate-entrypoint: $data_dir belongs to $owner; giving it to $git_user" >&2
    chown -R -h "$git_user:$git_group" "$data_dir"
  fi
  chmod 0750 "$data_dir"
  if [ -n "$log_dir" ]; then
    [ -d "$log_dir" ] || install -d -m 0750 -o "$git_user" -g "$git_group" "$log_dir"
    [ -e "$log_destination" ] || install -m 0640 -o "$git_user" -g "$git_group" /dev/null "$log_destination"
  fi
}

# Host keys are made once, into a volume, so a redeploy keeps the identity
# pushers have in known_hosts. Keys mounted from a secret are used as they are.
ensure_host_keys() {
  if [ ! -d "$host_key_dir" ]; then
    install -d -m 0700 "$host_key_dir" || die "cannot create $host_key_dir"
  fi
  if ! ls "$host_key_dir"/ssh_host_*_key >/dev/null 2>&1; then
    [ -w "$host_key_dir" ] || die "$host_key_dir has no host keys and is read-only: mount keys or a writable volume"
    for type in ed25519 rsa; do
      key=$host_key_dir/ssh_host_${type}_key
      tmp=$host_key_dir/.new-$type-$$
      ssh-keygen -q -t "$type" -N '' -C "pushgate host key" -f "$tmp" >/dev/null || die "ssh-keygen -t $type failed"
      mv "$tmp.pub" "$key.pub"
      mv "$tmp" "$key"
      echo "pushgate-entrypoint: created host key $(ssh-keygen -l -f "$key.pub")" >&2
    done
  fi
}

# Fills in the shipped templates (share/pushgate/sshd_config.d). Values are
# replaced literally, never interpreted by sed or the shell.
render_sshd_config() {
  case "$port" in
    '' | *[!0-9]*) die "PUSHGATE_SSH_PORT must be a port number, not '$port'" ;;
  esac
  install -d -m 0755 "$run_dir"
  templates=$prefix/share/pushgate/sshd_config.d
  host_keys=$(ls "$host_key_dir"/ssh_host_*_key)
  first_host_key=$(ls "$host_key_dir"/ssh_host_*_key | head -n 1)
  # "?Keyword value" lines: kept (without the '?') if this sshd knows the
  # keyword, dropped otherwise (OpenSSH adds settings across versions).
  optional_lines() {
    grep '^?' "$1" | while IFS= read -r line; do
      setting=${line#\?}
      if /usr/sbin/sshd -t -f /dev/null -h "$first_host_key" -o "${setting%% *}=${setting#* }" >/dev/null 2>&1; then
        printf '%s\n' "$line"
      fi
    done
  }
  render() {
    awk -v git_user="$git_user" -v keys_helper="$libexec/pushgate-keys" -v config="$config" \
      -v principals_helper="$libexec/pushgate-principals" -v data_dir="$data_dir" \
      -v listen="$listen" -v port="$port" -v host_keys="$host_keys" -v pid_file="$run_dir/sshd.pid" \
      -v drop_in="$run_dir/pushgate.conf" -v include="${PUSHGATE_SSHD_INCLUDE:-}" \
      -v supported="$(optional_lines "$1")" '
      function replace(text, from, to,    at) {
        at = index(text, from)
        return at == 0 ? text : substr(text, 1, at - 1) to replace(substr(text, at + length(from)), from, to)
      }
      /@LISTEN@/ { n = split(listen, a, " "); for (i = 1; i <= n; i++) print "ListenAddress " a[i]; next }
      /@HOST_KEY@/ { n = split(host_keys, k, "\n"); for (i = 1; i <= n; i++) print "HostKey " k[i]; next }
      /@DROP_IN@/ { if (include != "") print "Include " include; print "Include " drop_in; next }
      /^[?]/ { if (index("\n" supported "\n", "\n" $0 "\n") > 0) print substr($0, 2); next }
      {
        line = replace($0, "@GIT_USER@", git_user)
        line = replace(line, "@KEYS_HELPER@", keys_helper)
        line = replace(line, "@PRINCIPALS_HELPER@", principals_helper)
        line = replace(line, "@DATA_DIR@", data_dir)
        line = replace(line, "@CONFIG@", config)
        line = replace(line, "@PORT@", port)
        print replace(line, "@PID_FILE@", pid_file)
      }' "$1"
  }
  render "$templates/pushgate.conf.in" >"$run_dir/pushgate.conf"
  render "$templates/sshd_config.in" >"$run_dir/sshd_config"
  install -d -m 0755 /run/sshd  # sshd's privilege separation directory
  /usr/sbin/sshd -t -f "$run_dir/sshd_config" || die "sshd rejected $run_dir/sshd_config"
}

gateway() {
  [ "$(id -u)" -eq 0 ] || die "the gateway runs sshd and must start as root"
  check_config
  fix_ownership
  ensure_host_keys
  render_sshd_config
  # A replica drained before its replacement must not start drained.
  if [ "${PUSHGATE_START_DRAINED:-0}" != 1 ]; then
    "$pushgate" --config "$config" drain off >/dev/null
  fi
  if [ "${PUSHGATE_LOG_FOLLOW:-0}" = 1 ] && [ -n "$log_dir" ]; then
    # The forced command and the hook run under sshd, whose stderr is the
    # pusher's: they log to a file, copied here to the container's stderr.
    tail -n 0 -F "$log_destination" >&2 &
  fi
  echo "pushgate-entrypoint: sshd listening on $listen port $port" >&2
  exec /usr/sbin/sshd -D -e -f "$run_dir/sshd_config"
}

# pushgate-sshd as the front end: no sshd_config, no host key step (it makes
# its own, in sshd.host_keys), no root.
sshd_front_end() {
  check_config
  if [ -n "${PUSHGATE_SSH_LISTEN:-}${PUSHGATE_SSH_PORT:-}" ]; then
    case "${PUSHGATE_SSH_LISTEN:-}" in
      *' '*) die "pushgate-sshd listens on one address; PUSHGATE_SSH_LISTEN names several" ;;
      *:*) address="[${PUSHGATE_SSH_LISTEN}]" ;;
      *) address=${PUSHGATE_SSH_LISTEN:-0.0.0.0} ;;
    esac
    set -- --listen="$address:${PUSHGATE_SSH_PORT:-2222}" "$@"
  fi
  if [ "$(id -u)" -eq 0 ]; then
    fix_ownership
  fi
  if [ "${PUSHGATE_START_DRAINED:-0}" != 1 ]; then
    "$pushgate" --config "$config" drain off >/dev/null
  fi
  # One log for the server, the sessions and the hook: [log] destination,
  # copied to stderr as in gateway mode when asked.
  if [ "${PUSHGATE_LOG_FOLLOW:-0}" = 1 ] && [ -n "$log_dir" ]; then
    tail -n 0 -F "$log_destination" >&2 &
  fi
  sidecar "$libexec/pushgate-sshd" --config "$config" "$@"
}

# Runs a sidecar as git_user (dropping root if started as root).
sidecar() {
  check_config
  if [ "$(id -u)" -eq 0 ]; then
    fix_ownership
    exec setpriv --reuid="$git_user" --regid="$git_group" --init-groups --inh-caps=-all -- "$@"
  fi
  exec "$@"
}

metrics_flag() {
  if [ -n "${PUSHGATE_METRICS_LISTEN:-}" ]; then
    echo "--metrics-listen=$PUSHGATE_METRICS_LISTEN"
  fi
}

command=${1:-gateway}
[ $# -gt 0 ] && shift
case "$command" in
  gateway) gateway ;;
  sshd) sshd_front_end "$@" ;;
  # shellcheck disable=SC2046
  sync) sidecar "$libexec/pushgate-sync" --config "$config" --daemon --log-destination stderr $(metrics_flag) "$@" ;;
  # shellcheck disable=SC2046
  reaper) sidecar "$libexec/pushgate-reaper" --config "$config" --interval --log-destination stderr $(metrics_flag) "$@" ;;
  -h | --help) sed -n '2,27s/^# \{0,1\}//p' "$0" ;;
  -*)
    echo "pushgate-entrypoint: unknown option $command; give gateway, sshd, sync, reaper or a command to run" >&2
    echo "Try 'pushgate-entrypoint --help'." >&2
    exit 2
    ;;
  *) exec "$command" "$@" ;;
esac
