#!/usr/bin/env bash
# Start (or restart) the lab's FreeRADIUS inside host aaa's network namespace - used by the
# netmobility.mobileip lab role (lab_radius: true).
#
#   lab-radius.sh MODE DIR NAMESPACE CONFIG_CHANGED
#
# MODE: "apply" or "check". DIR holds radiusd.conf, the users file, run/radiusd.pid and log/. A running
# server is left alone unless CONFIG_CHANGED is "true" (then it is stopped by its PID and started
# again). Prints "running", "started" or "restarted" ("would ..." in check mode).
set -euo pipefail
mode=$1 dir=$2 ns=$3 changed=$4
freeradius=$(command -v freeradius || echo /usr/sbin/freeradius)

running_pid() {  # the lab's FreeRADIUS according to its pid file, if it runs in the namespace
  local pid
  pid=$(cat "$dir/run/radiusd.pid" 2>/dev/null) || return 0
  [ -n "$pid" ] || return 0
  ip netns pids "$ns" 2>/dev/null | grep -qx "$pid" || return 0
  echo "$pid"
}

start() {
  ip netns exec "$ns" "$freeradius" -d "$dir" -n radiusd -D /usr/share/freeradius
  for _ in $(seq 100); do  # it writes its pid file once it is ready and detached
    [ -n "$(running_pid)" ] && return 0
    sleep 0.1
  done
  echo "FreeRADIUS did not start; its log: $dir/log/radius.log" >&2
  exit 1
}

pid=$(running_pid)
if [ -n "$pid" ] && [ "$changed" != true ]; then
  echo running
elif [ "$mode" != apply ]; then
  echo "would ${pid:+re}start"
else
  if [ -n "$pid" ]; then
    kill "$pid"
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  start
  echo "${pid:+re}started"
fi
