// What a DEL tears down, in order of trust (the caller holds the sandbox lock):
//   1. our journal: strict for every attachment that may exist (attachment-journal.ts);
//   2. upstream Go Multus's scratch cache (a node upgraded in place): strict, every delegate;
//   3. the plan rebuilt the way the ADD made it (the pod's annotations and NADs, or the config's
//      delegates), best-effort: with no record, nothing is recorded as attached;
//   4. when even that fails (the API unreachable, the kubeconfig unreadable, a NAD deleted since), the
//      networks every pod gets, from the config alone (base-networks.ts), best-effort.
// Every step down says why in the log. A record that exists but cannot be read (EACCES, EIO) fails the
// DEL instead: the runtime retries, and no strict teardown silently becomes a best-effort one.
import { toCniError } from "../cni/cni-error.ts";
import type { Logger } from "../util/logger.ts";
import type { AttachmentJournal, JournalEntry } from "./attachment-journal.ts";
import type { AttachmentPlan } from "./attachment-plan.ts";
import type { CniRequest } from "./config-file-planner.ts";

export type Teardown =
  | { source: "journal" | "upstream"; entry: JournalEntry }
  | { source: "rebuilt"; plan: AttachmentPlan; corruptJournal: boolean };

export interface TeardownSources {
  journal: AttachmentJournal;
  log: Logger;
  readUpstream: () => Promise<{ plan: AttachmentPlan } | { corrupt: string } | undefined>;
  /** The plan rebuilt the way the ADD made it; throws when it cannot be rebuilt. */
  rebuild: () => Promise<AttachmentPlan>;
  /** The networks every pod gets, from the config alone. */
  fallback: () => Promise<AttachmentPlan>;
}

export async function planTeardown(req: CniRequest, s: TeardownSources): Promise<Teardown> {
  const containerId = req.containerId;
  const read = await s.journal.read(containerId);
  if (read !== undefined && "entry" in read) return { source: "journal", entry: read.entry };
  const corruptJournal = read !== undefined;
  if (read !== undefined) {
    s.log.warn({ containerId, path: s.journal.pathOf(containerId), reason: read.corrupt }, "journal unreadable: rebuilding the plan, and tearing it down best-effort");
  }
  const upstream = await s.readUpstream();
  if (upstream !== undefined && "plan" in upstream) {
    return { source: "upstream", entry: { plan: upstream.plan, states: upstream.plan.attachments.map(() => "added") } };
  }
  if (upstream !== undefined) {
    s.log.warn({ containerId, reason: upstream.corrupt }, "upstream Multus's record of this sandbox is unreadable: rebuilding the plan, and tearing it down best-effort");
  }
  if (read === undefined && upstream === undefined) {
    s.log.info({ containerId }, "no record of this sandbox (never ADDed, or already torn down): rebuilding the plan, best-effort");
  }
  try {
    return { source: "rebuilt", plan: await s.rebuild(), corruptJournal };
  } catch (err) {
    s.log.warn({ containerId, error: toCniError(err).message }, "the plan cannot be rebuilt: tearing down the networks every pod gets, from the config alone");
  }
  return { source: "rebuilt", plan: await s.fallback(), corruptJournal };
}
