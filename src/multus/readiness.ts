// readinessindicatorfile: the cluster network writes this file when it is ready; until then ADD,
// STATUS and GC wait (upstream: 1 s polls for up to 45 s, here also never past the operation's budget)
// and DEL only warns (NPWG-23).
import { access } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import type { Budget } from "../util/budget.ts";
import { formatSeconds } from "../util/budget.ts";
import { MultusError } from "../util/multus-error.ts";

export interface ReadinessOptions {
  intervalMs?: number;
  timeoutMs?: number;
}

export async function waitForReadiness(file: string | undefined, budget: Budget, opts: ReadinessOptions = {}): Promise<void> {
  if (file === undefined) return;
  const intervalMs = opts.intervalMs ?? 1000;
  const ownMs = opts.timeoutMs ?? 45_000;
  const deadline = Math.min(Date.now() + ownMs, budget.deadline);
  const started = Date.now();
  for (;;) {
    if (await isReady(file)) return;
    const left = deadline - Date.now();
    if (left <= 0) {
      const why = budget.deadline <= Date.now() + 1 ? `, when ${budget.describe()} ran out` : "";
      throw new MultusError(
        "MULTUS_ERR_NOT_READY",
        `the cluster network is not ready: readiness indicator file ${file} did not appear within ${formatSeconds(Date.now() - started)}${why}`,
      );
    }
    await sleep(Math.min(intervalMs, left));
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
