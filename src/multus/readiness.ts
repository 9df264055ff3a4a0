// readinessindicatorfile: the cluster network writes this file when it is ready; until then ADD,
// STATUS and GC wait (upstream: 1 s polls for up to 45 s) and DEL only warns (NPWG-23).
import { access } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { MultusError } from "../util/multus-error.ts";

export async function waitForReadiness(file: string | undefined, opts: { intervalMs?: number; timeoutMs?: number } = {}): Promise<void> {
  if (file === undefined) return;
  const intervalMs = opts.intervalMs ?? 1000;
  const deadline = Date.now() + (opts.timeoutMs ?? 45_000);
  for (;;) {
    if (await isReady(file)) return;
    if (Date.now() >= deadline) {
      throw new MultusError(
        "MULTUS_ERR_NOT_READY",
        `the cluster network is not ready: readiness indicator file ${file} did not appear within ${String(Math.round((opts.timeoutMs ?? 45_000) / 1000))} s`,
      );
    }
    await sleep(intervalMs);
  }
}

export async function isReady(file: string | undefined): Promise<boolean> {
  if (file === undefined) return true;
  try {
    await access(file);
    return true;
  } catch {
    return false;
  }
}
