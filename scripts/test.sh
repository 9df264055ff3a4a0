#!/usr/bin/env bash
# The whole test suite, from a fresh machine: set-up, type-check, lint, then every test in one
# node:test run: unit, integration (real CNI plugins in namespaces, the real kube-apiserver), the
# Kubernetes client against the real API, the control-plane/CRD/RBAC tests, and e2e on a real node
# (containerd + kubelet in a node namespace, pods created with kubectl; test/e2e brings up its own).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$MULTUS_TS_ROOT"

say "type-check (tsc --noEmit)"
npx tsc -p tsconfig.json --noEmit
say "lint (eslint, typescript-eslint strict-type-checked, layer boundaries)"
npx eslint --max-warnings 0 .

say "conformance IDs covered by test names"
node scripts/conformance-coverage.ts

# The test run comes last: CI reads node:test's closing summary.
say "tests (node:test)"
# One run, so that CI reads one summary. Integration tests create network namespaces; they run one
# file at a time to keep timing-sensitive plugin calls off each other's CPU on a 2-core machine.
# The global setup brings up the real control plane (test/cluster/cluster.sh: etcd + kube-apiserver
# built from source on first use, cached in ~/.cache/multus-ts) and stops it at the end if it started it.
summary=$(mktemp)
trap 'rm -f "$summary"' EXIT
status=0
node --test --test-concurrency=1 --test-reporter=spec --test-global-setup=test/cluster/global-setup.ts \
  'test/unit/**/*.test.ts' 'test/integration/**/*.test.ts' 'test/k8s/**/*.test.ts' 'test/cluster/**/*.test.ts' \
  'test/e2e/**/*.test.ts' \
  | tee "$summary" || status=$?
# The control plane's teardown logs after node:test's summary; repeat the counts as the last line.
passed=$(sed -n 's/^ℹ pass \([0-9]*\)$/\1/p' "$summary" | tail -n 1)
failed=$(sed -n 's/^ℹ fail \([0-9]*\)$/\1/p' "$summary" | tail -n 1)
cancelled=$(sed -n 's/^ℹ cancelled \([0-9]*\)$/\1/p' "$summary" | tail -n 1)
skipped=$(sed -n 's/^ℹ skipped \([0-9]*\)$/\1/p' "$summary" | tail -n 1)
todo=$(sed -n 's/^ℹ todo \([0-9]*\)$/\1/p' "$summary" | tail -n 1)
echo "tests: ${passed:-0} passed, ${failed:-0} failed, ${cancelled:-0} cancelled, ${skipped:-0} skipped, ${todo:-0} todo"
exit "$status"

