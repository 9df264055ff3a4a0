#!/usr/bin/env bash
# Fuzz the shim's C parsers for longer than the test command does (test/unit/shim-fuzz.test.ts runs
# each target for 20 s), and merge the inputs that reach new code into the tree's seed corpus
# (test/fuzz/shim/corpus/<target>/), for a reviewer to commit. docs/testing.md, "Fuzzing the shim".
#
# Usage: scripts/fuzz-shim.sh [SECONDS] [TARGET...]    SECONDS per target (default 600); TARGET json, http
# Environment: FUZZ_JOBS=N runs N fuzzing processes per target (default 1; the machine has 2 cores).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
seconds=${1:-600}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(json http)
jobs=${FUZZ_JOBS:-1}
case $seconds in '' | *[!0-9]*) echo "usage: $0 [SECONDS] [json|http ...]" >&2; exit 2 ;; esac
case $jobs in '' | *[!0-9]*) echo "FUZZ_JOBS must be a number" >&2; exit 2 ;; esac
parallel=()
[ "$jobs" -le 1 ] || parallel=(-jobs="$jobs" -workers="$jobs")

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

# Node 24 and clang as scripts/setup.sh installs them (run it once on a fresh machine).
node_version=$(sed -n 's/^NODE_VERSION=//p' "$root/scripts/setup.sh")
node_bin="${MULTUS_TS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/multus-ts}/node-$node_version/node_modules/.bin"
if [ ! -x "$node_bin/node" ] || ! command -v clang >/dev/null; then
  echo "Node $node_version or clang is missing: run scripts/setup.sh first" >&2
  exit 1
fi
export PATH="$node_bin:$PATH"
# Sanitizer reports with file:line (llvm-14's symbolizer is in no directory of PATH).
[ ! -x /usr/lib/llvm-14/bin/llvm-symbolizer ] || export ASAN_SYMBOLIZER_PATH=/usr/lib/llvm-14/bin/llvm-symbolizer
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
say "building the fuzzers (clang, ASan, UBSan; cached)"
declare -A binary max_len
while read -r name path len; do
  binary[$name]=$path
  max_len[$name]=$len
done < <(node "$root/test/fuzz/shim/build-fuzzers.ts")
status=0
for t in "${targets[@]}"; do
  bin=${binary[$t]:-}
  [ -n "$bin" ] || { echo "unknown target $t (json, http)" >&2; exit 2; }
  corpus="$root/test/fuzz/shim/corpus/$t"
  work=$(mktemp -d "/tmp/mt-fuzz-shim-$t-XXXXXX")
  mkdir "$work/new" "$work/artifacts"
  say "fuzz-$t for ${seconds} s (${jobs} job(s)); new inputs in $work/new"
  # New inputs go to the first directory, $work/new; the tree's corpus is only read here.
  rc=0
  (cd "$work" && "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len="${max_len[$t]}" \
    -dict="$root/test/fuzz/shim/$t.dict" -artifact_prefix="$work/artifacts/" -print_final_stats=1 \
    "${parallel[@]}" "$work/new" "$corpus") >"$work/fuzz.log" 2>&1 || rc=$?
  # With -jobs, each job logs to fuzz-<n>.log in $work.
  tail -n 5 "$work/fuzz.log" "$work"/fuzz-*.log 2>/dev/null || true
  if [ "$rc" -ne 0 ] || [ -n "$(ls -A "$work/artifacts")" ]; then
    echo "fuzz-$t found a problem (exit $rc): the input is in $work/artifacts/, the report in $work/*.log." >&2
    echo "Reproduce with: $bin $work/artifacts/<file>; once fixed, copy the input into $corpus/." >&2
    status=1
    continue
  fi
  before=$(ls "$corpus" | wc -l)
  "$bin" -merge=1 -max_len="${max_len[$t]}" "$corpus" "$work/new" >"$work/merge.log" 2>&1
  after=$(ls "$corpus" | wc -l)
  say "fuzz-$t: $((after - before)) new input(s) merged into test/fuzz/shim/corpus/$t ($after in all)"
  rm -rf "$work"
done
exit "$status"
