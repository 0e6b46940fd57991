#!/usr/bin/env bash
# Start one IOS-like router (ios_sim, in this directory) per IOS-like lab host inside the host's
# network namespace, in place of sshd - used by the netmobility.mobileip lab role.
#
#   lab-ios.sh MODE STATE_DIR PYTHON HOST=NAMESPACE=ADDRESS=IOSNAME:LINK,IOSNAME:LINK,...
#
# MODE: "apply" or "check" (check mode: only tell what would be done). PYTHON: the controller's
# Python (it has asyncssh and the agent's mipd next to it). Each router keeps its state (users
# file, startup-config, logs, host key, its mipd's files) in STATE_DIR/ios-HOST, listens on
# ADDRESS:22 only, and has one interface per lab link (IOSNAME stands for the Linux link LINK).
# A running router is left alone. Prints one line per host: "running HOST" or "started HOST"
# ("would start" in check mode). lab_down ends every process in the lab's namespaces (a router
# stops its mipd on SIGTERM).
set -euo pipefail
mode=$1 state=$2 python=$3
shift 3
files=$(dirname "$(readlink -f "$0")")

running_pid() {  # pid of the lab's router in namespace $2 according to pid file $1, or nothing
  local pid
  pid=$(cat "$1" 2>/dev/null) || return 0
  [ -n "$pid" ] || return 0
  ip netns pids "$2" 2>/dev/null | grep -qx "$pid" || return 0
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "-m ios_sim " || return 0
  echo "$pid"
}

started=()
for spec in "$@"; do
  IFS='=' read -r host ns addr links <<<"$spec"
  dir=$state/ios-$host
  pid=$(running_pid "$dir/ios_sim.pid" "$ns")
  if [ -n "$pid" ]; then
    echo "running $host"
    continue
  fi
  if [ "$mode" != apply ]; then
    echo "would start $host"
    continue
  fi
  interfaces=()
  IFS=',' read -ra pairs <<<"$links"
  for pair in "${pairs[@]}"; do interfaces+=(--interface "${pair%%:*}=${pair#*:}"); done
  rm -f "$dir/listen"
  # setsid: the router outlives this task; its output goes to its own log files (router.log).
  ip netns exec "$ns" env PYTHONPATH="$files" setsid "$python" -m ios_sim --hostname "$host" \
    --listen "$addr:22" --state-dir "$dir" --users-file "$dir/users.yaml" "${interfaces[@]}" \
    </dev/null >"$dir/stderr.log" 2>&1 &
  started+=("$host=$dir")
  echo "started $host"
done

# A router writes STATE/listen once it accepts connections; wait for each new one.
for entry in "${started[@]}"; do
  host=${entry%%=*} dir=${entry#*=}
  for _ in $(seq 300); do
    if [ -s "$dir/listen" ]; then continue 2; fi
    sleep 0.1
  done
  echo "the IOS-like router $host did not start: $(tail -n 5 "$dir/stderr.log")" >&2
  exit 1
done
