#!/usr/bin/env bash
# The property and fuzz tests of the parsers of untrusted input (test/unit/fuzz-*.test.ts) with many
# more runs than the test command gives them (100 per property there). docs/testing.md, "Property and
# fuzz tests", says what each file proves.
#
# Usage: bench/fuzz.sh [RUNS] [FILE...]
#   RUNS  runs per property of weight 1 (default 200000; the files' weights scale it). On 2 cores all
#         files take about 95 s per 1000 runs (200000: about 5 hours), most of it in the file readers.
#   FILE  test files, relative to the repository (default: every test/unit/fuzz-*.test.ts)
# Environment: MULTUS_TS_FUZZ_SEED=N fixes the seed (default: a new one per file, printed on failure);
#   MULTUS_TS_FUZZ_INPUT_MS=N the longest one input may take before it counts as a hang (default 10000).
#
# Replaying a failure: the failing test prints its seed, the counterexample's path and the command, e.g.
#   MULTUS_TS_FUZZ_SEED=1922379146 MULTUS_TS_FUZZ_PATH=1140:0:0 \
#     node --test --test-name-pattern="^<the property>$" test/unit/fuzz-selection-annotation.test.ts
# which runs that one counterexample (the seed alone reruns the whole property the same way).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
runs=${1:-200000}
shift || true
case $runs in '' | *[!0-9]*) echo "usage: $0 [RUNS] [FILE...]" >&2; exit 2 ;; esac
cd "$root"
files=("$@")
[ ${#files[@]} -gt 0 ] || files=(test/unit/fuzz-*.test.ts)

# Node 24 as scripts/setup.sh installs it (run that once on a fresh machine).
node_version=$(sed -n 's/^NODE_VERSION=//p' scripts/setup.sh)
node_bin="${MULTUS_TS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/multus-ts}/node-$node_version/node_modules/.bin"
if [ ! -x "$node_bin/node" ] || [ ! -d node_modules/fast-check ]; then
  echo "Node $node_version or the npm dependencies are missing: run scripts/setup.sh first" >&2
  exit 1
fi
export PATH="$node_bin:$PATH"

printf '\033[1m==> %s\033[0m\n' "$runs runs per property: ${files[*]}"
MULTUS_TS_FUZZ_RUNS=$runs exec node --test --test-reporter=spec "${files[@]}"
