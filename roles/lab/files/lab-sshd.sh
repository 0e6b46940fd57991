#!/usr/bin/env bash
# Start (or reload) one sshd per lab host inside the host's network namespace - used by the
# netmobility.mobileip lab role.
#
#   lab-sshd.sh MODE STATE_DIR SSHD CONFIG_CHANGED HOST=NAMESPACE=ADDRESS...
#
# MODE: "apply" or "check" (check mode: only tell what would be done). CONFIG_CHANGED: "true" when
# STATE_DIR/sshd.conf was just rewritten (running sshds are then reloaded with SIGHUP). Each sshd
# listens on ADDRESS:22 only and keeps its pid in STATE_DIR/sshd-HOST.pid and its log in
# STATE_DIR/sshd-HOST.log. A running sshd is left alone. Prints one line per host:
# "running HOST", "started HOST" or "reloaded HOST" ("would start"/"would reload" in check mode).
set -euo pipefail
mode=$1 state=$2 sshd=$3 config_changed=$4
shift 4

running_pid() {  # pid of the lab's sshd in namespace $2 according to pid file $1, or nothing
  local pid
  pid=$(cat "$1" 2>/dev/null) || return 0
  [ -n "$pid" ] || return 0
  ip netns pids "$2" 2>/dev/null | grep -qx "$pid" || return 0
  [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$sshd" ] || return 0
  echo "$pid"
}

started=()
for spec in "$@"; do
  IFS='=' read -r host ns addr <<<"$spec"
  pidfile=$state/sshd-$host.pid
  pid=$(running_pid "$pidfile" "$ns")
  if [ -n "$pid" ]; then
    if [ "$config_changed" = true ]; then
      if [ "$mode" = apply ]; then kill -HUP "$pid"; echo "reloaded $host"; else echo "would reload $host"; fi
    else
      echo "running $host"
    fi
  elif [ "$mode" = apply ]; then
    ip netns exec "$ns" "$sshd" -f "$state/sshd.conf" -o "ListenAddress=$addr:22" -o "PidFile=$pidfile" \
      -E "$state/sshd-$host.log"
    started+=("$addr")
    echo "started $host"
  else
    echo "would start $host"
  fi
done

# sshd listens before it daemonises; still, make sure every new one answers before returning.
for addr in "${started[@]}"; do
  for _ in $(seq 100); do
    if timeout 1 bash -c "exec 3<>/dev/tcp/$addr/22" 2>/dev/null; then continue 2; fi
    sleep 0.1
  done
  echo "sshd on $addr does not answer" >&2
  exit 1
done
