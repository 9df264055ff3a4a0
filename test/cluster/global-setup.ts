// Once-per-run setup for `node --test --test-global-setup=test/cluster/global-setup.ts`: one
// control plane for every test file of the run. The runner process holds it, and releasing it at
// the end stops it only if nobody else (another run, or a plain `cluster.sh up`) still wants it.
import { releaseCluster, startCluster } from "./harness.ts";

export async function globalSetup(): Promise<void> {
  await startCluster();
}

export async function globalTeardown(): Promise<void> {
  await releaseCluster();
}
