// Once-per-run setup for `node --test --test-global-setup=test/cluster/global-setup.ts`: one
// control plane for every test file of the run. The runner process holds it, and releasing it at
// the end stops it only if nobody else (another run, or a plain `cluster.sh up`) still wants it.
import { join } from "node:path";
import { releaseCluster, repoRoot, startCluster, tryKubectl } from "./harness.ts";

export async function globalSetup(): Promise<void> {
  await startCluster();
  // The suites on this control plane use a multus token bound to no pod; the node-scoped-writes
  // policy (which its own test applies and removes) must not be left from a run that was killed.
  await tryKubectl(["delete", "-k", join(repoRoot, "deploy", "admission"), "--ignore-not-found"]);
}

export async function globalTeardown(): Promise<void> {
  await releaseCluster();
}
