// Once-per-run setup for `node --test --test-global-setup=test/cluster/global-setup.ts`:
// one control plane for every test file of the run, stopped at the end only if this run started
// it (an already running one, e.g. from `cluster.sh up` in another shell, is left alone).
import { keepCluster, startCluster, stopCluster } from "./harness.ts";

let startedByThisRun = false;

export async function globalSetup(): Promise<void> {
  startedByThisRun = (await startCluster()).started;
}

export async function globalTeardown(): Promise<void> {
  if (startedByThisRun && !keepCluster()) await stopCluster();
}
