# shellcheck shell=bash disable=SC2154
# Process bookkeeping shared by cluster.sh and node/node.sh (sourced; needs `log` and `die`, and
# `proc_dir`: the directory holding pids/ and logs/). Every process we start is recorded with its PID
# and start time, and both must still match before any signal: only our own processes are stopped.

# Field 22 of /proc/PID/stat (start time in clock ticks since boot): with the PID it identifies
# one process, so a recycled PID is never mistaken for ours. Fails for a process that is gone or a
# zombie (dead, waiting for PID 1 to reap it, which here happens only every few seconds).
proc_start_time() {
  local stat
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  stat="${stat##*) }"
  awk '$1 !~ /^[ZX]$/ { print $20; found = 1 } END { exit !found }' <<<"$stat"
}

# Prints the PID recorded for a component if that very process still runs.
owned_pid() {
  local file="$proc_dir/pids/$1.pid" pid recorded_start now_start
  [[ -r "$file" ]] || return 1
  read -r pid recorded_start <"$file" || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  now_start="$(proc_start_time "$pid")" || return 1
  [[ "$now_start" == "$recorded_start" ]] || return 1
  printf '%s\n' "$pid"
}

# Starts a component in its own session (so it outlives the script and its process group can be
# signalled as a whole), with its output in $proc_dir/logs/<name>.log, and records its PID.
start_process() {
  local name="$1"; shift
  local log_file="$proc_dir/logs/$name.log" pid start
  # fds 7-9 hold the scripts' locks: the child must not inherit them, or a lock would outlive us.
  setsid "$@" </dev/null >"$log_file" 2>&1 7>&- 8>&- 9>&- &
  pid=$!
  start="$(proc_start_time "$pid")" || { tail -n 40 "$log_file" >&2; die "$name exited at once"; }
  printf '%s %s\n' "$pid" "$start" >"$proc_dir/pids/$name.pid"
  log "started $name (pid $pid, log $log_file)"
}

stop_process() {
  local name="$1" pid waited=0
  pid="$(owned_pid "$name")" || { rm -f "$proc_dir/pids/$name.pid"; return 0; }
  log "stopping $name (pid $pid)"
  # setsid made the process its group's leader: signal the group, which includes any children.
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  while owned_pid "$name" >/dev/null; do
    if ((waited == 200)); then
      log "$name (pid $pid) ignored SIGTERM for 20 s; sending SIGKILL"
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
  rm -f "$proc_dir/pids/$name.pid"
}

# A Node that runs TypeScript (type stripping, >= 23.6; the project pins 24) for the forwarders
# (node/forward.ts): the one on PATH (npm scripts, scripts/test.sh) first, else scripts/setup.sh's
# cached Node 24 under CACHE_ROOT. Prints nothing when there is none.
find_node24() {
  local candidate
  for candidate in "$(command -v node || true)" "$1"/node-24.*/node_modules/.bin/node; do
    if [[ -x "$candidate" && "$("$candidate" -p 'Number(process.versions.node.split(".")[0]) >= 24' 2>/dev/null)" == true ]]; then
      printf '%s\n' "$candidate"
      return 0
    fi
  done
}
