// Once-per-run setup for `node --test --test-global-setup=test/e2e/global-setup.ts 'test/e2e/**/*.test.ts'`:
// the e2e control plane and its node come up once (node-harness.ts picks the e2e state dir and
// ports unless the environment names others), held by the runner process. The release at the end
// stops both unless someone else still holds the control plane or it was started by hand.
// A node that cannot start fails the run with the reason (cluster.sh's stderr); nothing is skipped.
import { releaseCluster, startCluster } from "../cluster/harness.ts";
import { startNode } from "./node-harness.ts";

export async function globalSetup(): Promise<void> {
  await startCluster();
  await startNode();
}

export async function globalTeardown(): Promise<void> {
  await releaseCluster();
}
