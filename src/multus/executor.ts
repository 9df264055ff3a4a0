// Act on an AttachmentPlan: ADD in order with rollback, DEL in reverse, CHECK, STATUS, GC — with the
// journal (attachment-journal.ts) written at every transition, so that a crash at any step leaves the
// record a DEL needs. The caller holds the sandbox locks (sandbox-locks.ts) and passes them in `ctx`;
// every delegate inherits them and gets what is left of the operation's budget.
import { CniCode, CniError, toCniError } from "../cni/cni-error.ts";
import { convertResult } from "../cni/result-convert.ts";
import type { DelegateConfig } from "../cni/delegate-config.ts";
import type { CniResult, Result100, ValidAttachment } from "../cni/types.ts";
import { prepareAttachmentInfo, removeAttachmentInfo } from "../devices/device-info-files.ts";
import { stripPrefix } from "../netattach/address-syntax.ts";
import { Budget } from "../util/budget.ts";
import type { Logger } from "../util/logger.ts";
import { MultusError } from "../util/multus-error.ts";
import { teardownOf, type AttachmentJournal, type AttachmentState, type JournalEntry } from "./attachment-journal.ts";
import type { Attachment, AttachmentPlan } from "./attachment-plan.ts";
import type { DelegateLockContext } from "./sandbox-locks.ts";

/** What one delegate call needs besides its config (libcni's RuntimeConf). */
export interface DelegateRequest {
  containerId: string;
  netns: string;
  ifName: string;
  args: [string, string][];
  capabilityArgs: Record<string, unknown>;
}

/** The operation a delegate call belongs to: its time budget and the locks its plugins inherit. */
export interface OperationContext {
  budget: Budget;
  lock?: DelegateLockContext;
}

/** A cached attachment in the libcni result cache (for GC's valid sets). */
export interface CachedAttachmentKey {
  networkName: string;
  containerId: string;
  ifName: string;
  /** The netns of its ADD, when the runtime that cached it recorded one. */
  netns?: string;
}

/** The CNI runtime as the executor sees it (implemented over src/cni/conflist-runner.ts). */
export interface DelegateRunner {
  add(list: DelegateConfig, req: DelegateRequest, ctx: OperationContext): Promise<CniResult>;
  del(list: DelegateConfig, req: DelegateRequest, ctx: OperationContext): Promise<void>;
  check(list: DelegateConfig, req: DelegateRequest, ctx: OperationContext): Promise<void>;
  status(list: DelegateConfig, ctx: OperationContext): Promise<void>;
  gc(list: DelegateConfig, valid: ValidAttachment[], ctx: OperationContext): Promise<void>;
  /** Every attachment in the result cache. */
  cachedAttachments(): Promise<CachedAttachmentKey[]>;
}

export interface AttachmentResult {
  attachment: Attachment;
  result: CniResult;
}

export interface ExecutorOptions {
  /** The budget of undoing a failed ADD, separate from the ADD's own (rollbackTimeoutSeconds). */
  rollbackTimeoutMs: number;
}

export class Executor {
  readonly #runner: DelegateRunner;
  readonly #journal: AttachmentJournal;
  readonly #log: Logger;
  readonly #rollbackMs: number;

  constructor(runner: DelegateRunner, journal: AttachmentJournal, log: Logger, opts: ExecutorOptions) {
    this.#runner = runner;
    this.#journal = journal;
    this.#log = log;
    this.#rollbackMs = opts.rollbackTimeoutMs;
  }

  /**
   * ADD every attachment in plan order, journaling each step. On the first failure, DEL what was
   * attempted in reverse (with its own budget) and report the original error. The failing attachment
   * is DELed too (a plugin may have half-configured before failing, CNI-P-13) but only best-effort:
   * its config may be what is broken (macvlan's DEL fails like its ADD when the parent is missing).
   * Attachments whose rollback DEL fails stay in the journal, so the runtime's DEL retries them.
   */
  async add(plan: AttachmentPlan, ctx: OperationContext): Promise<AttachmentResult[]> {
    const existing = await this.#journal.read(plan.containerId);
    if (existing !== undefined) {
      const what = "entry" in existing ? describeStates(existing.entry) : `an unreadable journal (${existing.corrupt})`;
      throw new MultusError(
        "MULTUS_ERR_ALREADY_ATTACHED",
        `container ${plan.containerId} already has attachments from an earlier ADD (${what}, ${this.#journal.pathOf(plan.containerId)}); the runtime must DEL it before adding it again`,
      );
    }
    const states: AttachmentState[] = plan.attachments.map((_, i) => (i === 0 ? "adding" : "planned"));
    const entry: JournalEntry = { plan, states };
    // One write per step: attachment i's "added" and attachment i+1's "adding" go together.
    await this.#journal.write(entry);
    const done: AttachmentResult[] = [];
    for (const a of plan.attachments) {
      let result: CniResult;
      try {
        // The journal (already written) names the device-info file, so a crash from here on still removes it.
        if (a.device !== undefined) await prepareAttachmentInfo(a.device.infoFile, a.device.dpInfoFile);
        result = await this.#runner.add(a.delegate, requestFor(plan, a), ctx);
      } catch (err) {
        states[a.index] = "failed";
        throw await this.#rollback(entry, done, a, toCniError(err), ctx);
      }
      done.push({ attachment: a, result });
      states[a.index] = "added";
      const next = plan.attachments[a.index + 1];
      if (next !== undefined) states[next.index] = "adding";
      // The next attachment's "adding" must survive a reboot before its plugin starts. The last
      // write only turns "adding" (already strict for a DEL) into "added" (for CHECK): its data is
      // fsynced, its rename need not be (a lost rename leaves the complete "adding" version).
      await this.#journal.write(entry, next === undefined ? { durable: "file" } : {});
      const unconfirmed = unconfirmedRequests(a, result);
      if (unconfirmed !== undefined) throw await this.#rollback(entry, done, undefined, unconfirmed, ctx);
      this.#log.info({ containerId: plan.containerId, network: a.network, ifName: a.ifName }, "attachment added");
    }
    return done;
  }

  async #rollback(entry: JournalEntry, done: readonly AttachmentResult[], failed: Attachment | undefined, cause: CniError, addCtx: OperationContext): Promise<CniError> {
    const { plan, states } = entry;
    const at = failed ?? done[done.length - 1]?.attachment;
    const where = at === undefined ? "" : `network "${at.network}" (interface ${at.ifName}): `;
    this.#log.error({ containerId: plan.containerId, network: at?.network, ifName: at?.ifName, error: cause.message }, "attachment failed, rolling back");
    const budget = new Budget("rollback of the ADD", this.#rollbackMs, "rollbackTimeoutSeconds");
    // The rollback has its own budget (the ADD's may be what ran out) and the same locks.
    const rollbackCtx: OperationContext = addCtx.lock === undefined ? { budget } : { budget, lock: addCtx.lock };
    for (const d of done) states[d.attachment.index] = "deleting";
    // An attachment announced as next but never started goes back to "planned": nothing to undo.
    for (const a of plan.attachments) if (states[a.index] === "adding") states[a.index] = "planned";
    await this.#journal.write(entry);
    const leftover = new Set<number>();
    if (failed !== undefined) {
      // Best-effort and not retried: the plugin reported its ADD failed, and by the CNI contract it
      // cleans up after itself; a DEL that fails here fails for the same reason as the ADD. It gets at
      // most half of the rollback's budget, so that a plugin that hangs in DEL as it hung in ADD cannot
      // leave the completed attachments without time.
      const share = new Budget("rollback of the ADD (the failed attachment's share)", Math.min(budget.remainingMs(), this.#rollbackMs / 2), "rollbackTimeoutSeconds");
      const errors = await this.#delAll(plan, [failed], { ...rollbackCtx, budget: share });
      for (const e of errors) this.#log.warn({ containerId: plan.containerId, error: e.message }, "DEL of the failed attachment failed");
    }
    const rollback: CniError[] = [];
    for (const d of [...done].reverse()) {
      const errors = await this.#delAll(plan, [d.attachment], rollbackCtx);
      if (errors.length > 0) leftover.add(d.attachment.index);
      rollback.push(...errors);
    }
    await this.#keepOnly(entry, leftover);
    const suffix = rollback.length === 0 ? "" : `; rollback also failed, will retry on DEL: ${rollback.map((e) => e.message).join("; ")}`;
    return new CniError(cause.code, `${where}${cause.message}${suffix}`, cause.details, { cause });
  }

  /**
   * DEL the journaled attachments in reverse: strict for every attachment that may exist, best-effort
   * for those whose ADD reported failure, none for those never started. A failure does not stop the
   * others (NPWG-25); the journal keeps the attachments whose DEL failed, so no IP lease or interface
   * is forgotten (upstream multus#355), and is removed once nothing is left.
   */
  async del(entry: JournalEntry, ctx: OperationContext): Promise<void> {
    const { plan, states } = entry;
    for (const why of entry.refused ?? []) {
      this.#log.error({ containerId: plan.containerId, reason: why }, "a recorded attachment is not torn down: the gate refuses to run its config again (docs/security.md)");
    }
    const todo = teardownOf(entry);
    const skipped = plan.attachments.filter((a) => states[a.index] === "planned");
    if (skipped.length > 0) {
      this.#log.info({ containerId: plan.containerId, networks: skipped.map((a) => a.network) }, "attachments never started are not torn down");
    }
    // "deleting" is written only with what is left (#keepOnly): a DEL is as strict for "adding" and
    // "added" as for "deleting", so announcing it first would cost two fsyncs and change nothing.
    for (const t of todo) if (t.strict) states[t.attachment.index] = "deleting";
    const strictErrors: CniError[] = [];
    const leftover = new Set<number>();
    for (const t of [...todo].reverse()) {
      const errors = await this.#delAll(plan, [t.attachment], ctx);
      if (errors.length === 0) continue;
      if (t.strict) {
        strictErrors.push(...errors);
        leftover.add(t.attachment.index);
      } else {
        this.#log.warn({ containerId: plan.containerId, network: t.attachment.network, errors: errors.map((e) => e.message) }, "DEL of an attachment whose ADD had failed failed too; not retried");
      }
    }
    await this.#keepOnly(entry, leftover);
    const first = strictErrors[0];
    if (first !== undefined) throw new CniError(first.code, strictErrors.map((e) => e.message).join("; "), first.details);
  }

  /**
   * DEL of a plan rebuilt without a journal: nothing is recorded as attached (the journal is written
   * before the first ADD and removed only after a complete teardown), so this is best-effort: a
   * delegate whose DEL cannot succeed (its config is what is broken) must not block the sandbox forever.
   */
  async delRebuilt(plan: AttachmentPlan, ctx: OperationContext): Promise<void> {
    const errors = await this.#delAll(plan, plan.attachments, ctx);
    if (errors.length > 0) {
      this.#log.warn({ containerId: plan.containerId, errors: errors.map((e) => e.message) }, "DEL of a rebuilt plan failed; nothing was recorded as attached, so it is not retried");
    }
  }

  /**
   * Hot-plug (the daemon's /delegate): ADD one more attachment to a sandbox whose journal exists; the
   * caller holds its lock. Journaled as "adding" before the plugin runs and "added" after, so a crash
   * or the sandbox's DEL still tears it down; on failure it is DELed best-effort and leaves the journal.
   */
  async attach(entry: JournalEntry, attachment: Omit<Attachment, "index">, ctx: OperationContext): Promise<CniResult> {
    const { plan } = entry;
    const clash = plan.attachments.find((a) => a.ifName === attachment.ifName && entry.states[a.index] !== "planned");
    if (clash !== undefined) {
      throw new MultusError("MULTUS_ERR_ALREADY_ATTACHED", `container ${plan.containerId} already has interface ${attachment.ifName} (network "${clash.network}"); detach it first or pick another interface name`);
    }
    const a: Attachment = { ...attachment, index: plan.attachments.length };
    const grown: JournalEntry = { plan: { ...plan, attachments: [...plan.attachments, a] }, states: [...entry.states, "adding"] };
    await this.#journal.write(grown);
    let result: CniResult;
    try {
      if (a.device !== undefined) await prepareAttachmentInfo(a.device.infoFile, a.device.dpInfoFile);
      result = await this.#runner.add(a.delegate, requestFor(grown.plan, a), ctx);
    } catch (err) {
      grown.states[a.index] = "failed";
      throw await this.#undoAttach(entry, grown, a, toCniError(err), ctx);
    }
    grown.states[a.index] = "added";
    await this.#journal.write(grown);
    // As for an ADD: requests no plugin declares must show in the result, or the attachment goes.
    const unconfirmed = unconfirmedRequests(a, result);
    if (unconfirmed !== undefined) throw await this.#undoAttach(entry, grown, a, unconfirmed, ctx);
    this.#log.info({ containerId: plan.containerId, network: a.network, ifName: a.ifName }, "attachment hot-plugged");
    return result;
  }

  /**
   * A hot-plug that failed: DEL it with a rollback budget of its own (the ADD's may be what ran out).
   * It leaves the journal only when that DEL succeeded; otherwise the sandbox's DEL retries it.
   */
  async #undoAttach(entry: JournalEntry, grown: JournalEntry, a: Attachment, cause: CniError, addCtx: OperationContext): Promise<CniError> {
    const budget = new Budget("rollback of the hot-plug", this.#rollbackMs, "rollbackTimeoutSeconds");
    const ctx: OperationContext = addCtx.lock === undefined ? { budget } : { budget, lock: addCtx.lock };
    const added = grown.states[a.index] === "added";
    grown.states[a.index] = added ? "deleting" : "failed";
    await this.#journal.write(grown);
    const errors = await this.#delAll(grown.plan, [a], ctx);
    for (const e of errors) this.#log.warn({ containerId: grown.plan.containerId, error: e.message }, "DEL of the failed hot-plug failed; the sandbox's DEL retries it");
    if (errors.length === 0) await this.#journal.write(entry);
    const suffix = errors.length === 0 ? "" : `; its teardown also failed and is retried by the sandbox's DEL: ${errors.map((e) => e.message).join("; ")}`;
    return new CniError(cause.code, `network "${a.network}" (interface ${a.ifName}): ${cause.message}${suffix}`, cause.details, { cause });
  }

  /** Hot-unplug: DEL the attachment on `ifName`; it leaves the journal once its DEL succeeded. */
  async detach(entry: JournalEntry, ifName: string, ctx: OperationContext): Promise<void> {
    const { plan, states } = entry;
    const a = plan.attachments.find((x) => x.ifName === ifName);
    if (a === undefined) {
      throw new CniError(CniCode.UnknownContainer, `container ${plan.containerId} has no interface ${ifName} recorded (it has ${plan.attachments.map((x) => x.ifName).join(", ")})`);
    }
    if (a.isDefault) throw new MultusError("MULTUS_ERR_CONFIG", `interface ${ifName} of container ${plan.containerId} is the cluster network's; only secondary networks can be detached`);
    states[a.index] = "deleting";
    await this.#journal.write(entry);
    const errors = await this.#delAll(plan, [a], ctx);
    const first = errors[0];
    if (first !== undefined) throw first;
    const rest = plan.attachments.filter((x) => x !== a);
    await this.#journal.write({
      plan: { ...plan, attachments: rest.map((x, index) => ({ ...x, index })) },
      states: rest.map((x) => states[x.index] ?? "added"),
    });
    this.#log.info({ containerId: plan.containerId, network: a.network, ifName }, "attachment hot-unplugged");
  }

  /** CHECK every attachment, stopping at the first failure (CNI-R-11); only a completed ADD can be checked. */
  async check(entry: JournalEntry, ctx: OperationContext): Promise<void> {
    const incomplete = entry.plan.attachments.filter((a) => entry.states[a.index] !== "added");
    if (incomplete.length > 0) {
      throw new CniError(CniCode.UnknownContainer, `container ${entry.plan.containerId}: the ADD did not complete (${describeStates(entry)}); CHECK needs a completed ADD`);
    }
    for (const a of entry.plan.attachments) {
      try {
        await this.#runner.check(a.delegate, requestFor(entry.plan, a), ctx);
      } catch (err) {
        const cause = toCniError(err);
        throw new CniError(cause.code, `network "${a.network}" (interface ${a.ifName}): ${cause.message}`, cause.details, { cause });
      }
    }
  }

  /** STATUS of each delegate; the first failure is returned with its code (50/51) intact. */
  async status(delegates: readonly DelegateConfig[], ctx: OperationContext): Promise<void> {
    for (const d of delegates) {
      try {
        await this.#runner.status(d, ctx);
      } catch (err) {
        const cause = toCniError(err);
        throw new CniError(cause.code, `network "${d.name}": ${cause.message}`, cause.details, { cause });
      }
    }
  }

  /**
   * GC (the caller holds the node lock exclusively): tear down every journaled sandbox the runtime no
   * longer lists, then forward GC to every delegate with the attachments of that network that remain.
   * An attachment is still valid when its container is in `valid`, whatever its interface: a sandbox
   * the runtime keeps loses nothing, also when it was ADDed by upstream Multus (no journal of ours).
   */
  async gc(delegates: readonly DelegateConfig[], valid: readonly ValidAttachment[], ctx: OperationContext): Promise<void> {
    const keep = new Set(valid.map((v) => v.containerID));
    const errors: CniError[] = [];
    const stillValid = new Map<string, Map<string, ValidAttachment>>();
    const addValid = (networkName: string, containerID: string, ifname: string): void => {
      const m = stillValid.get(networkName) ?? new Map<string, ValidAttachment>();
      m.set(`${containerID}\0${ifname}`, { containerID, ifname });
      stillValid.set(networkName, m);
    };
    for (const containerId of await this.#journal.list()) {
      let read;
      try {
        read = await this.#journal.read(containerId);
      } catch (err) {
        errors.push(new CniError(CniCode.IoFailure, `GC: cannot read ${this.#journal.pathOf(containerId)}: ${(err as Error).message}`));
        continue;
      }
      if (read === undefined) continue;
      if ("corrupt" in read) {
        this.#log.warn({ containerId, reason: read.corrupt, path: this.#journal.pathOf(containerId) }, "unreadable journal skipped by GC");
        continue;
      }
      if (!keep.has(containerId)) {
        try {
          await this.del(read.entry, ctx);
          this.#log.info({ containerId }, "stale attachments collected");
        } catch (err) {
          errors.push(toCniError(err));
        }
        continue;
      }
      // Keyed by the delegate's CNI name: that is the network name the result cache and plugins know.
      for (const a of read.entry.plan.attachments) addValid(a.delegate.name, containerId, a.ifName);
    }
    for (const c of await this.#runner.cachedAttachments()) {
      if (keep.has(c.containerId)) addValid(c.networkName, c.containerId, c.ifName);
    }
    for (const d of delegates) {
      try {
        await this.#runner.gc(d, [...(stillValid.get(d.name)?.values() ?? [])], ctx);
      } catch (err) {
        errors.push(toCniError(err));
      }
    }
    const first = errors[0];
    if (first !== undefined) throw new CniError(first.code, errors.map((e) => e.message).join("; "), first.details);
  }

  async #keepOnly(entry: JournalEntry, indices: ReadonlySet<number>): Promise<void> {
    if (indices.size === 0) {
      await this.#journal.remove(entry.plan.containerId);
      return;
    }
    const attachments = entry.plan.attachments.filter((a) => indices.has(a.index));
    const kept: JournalEntry = {
      plan: { ...entry.plan, attachments: attachments.map((a, index) => ({ ...a, index })) },
      states: attachments.map((a) => entry.states[a.index] ?? "deleting"),
    };
    await this.#journal.write(kept);
  }

  async #delAll(plan: AttachmentPlan, attachments: readonly Attachment[], ctx: OperationContext): Promise<CniError[]> {
    const errors: CniError[] = [];
    for (const a of [...attachments].reverse()) {
      try {
        await this.#runner.del(a.delegate, requestFor(plan, a), ctx);
        // DI-03: the attachment's device-info file goes with it (kept while its DEL is still to be retried).
        if (a.device !== undefined) removeAttachmentInfo(a.device.infoFile);
      } catch (err) {
        const cause = toCniError(err);
        this.#log.error({ containerId: plan.containerId, network: a.network, ifName: a.ifName, error: cause.message }, "attachment DEL failed");
        errors.push(new CniError(cause.code, `network "${a.network}" (interface ${a.ifName}): ${cause.message}`, cause.details, { cause }));
      }
    }
    return errors;
  }
}

function requestFor(plan: AttachmentPlan, a: Attachment): DelegateRequest {
  return { containerId: plan.containerId, netns: plan.netns, ifName: a.ifName, args: a.cniArgs, capabilityArgs: a.capabilityArgs };
}

function describeStates(entry: JournalEntry): string {
  return entry.plan.attachments.map((a) => `${a.ifName} "${a.network}" ${entry.states[a.index] ?? "?"}`).join(", ");
}

/**
 * Requests that reached the delegate only as CNI_ARGS (no plugin declares the capability) count only
 * if the result shows them; otherwise the attachment did not do what the pod asked for.
 */
function unconfirmedRequests(a: Attachment, result: CniResult): CniError | undefined {
  const expect = a.expect;
  if (expect === undefined) return undefined;
  let r: Result100;
  try {
    r = convertResult(result, "1.0.0");
  } catch {
    r = { cniVersion: "1.0.0" };
  }
  const missing: string[] = [];
  const capabilities: string[] = [];
  // A request with a prefix must match address and prefix; a bare one the address alone.
  const got = new Set((r.ips ?? []).flatMap((ip) => [ip.address.toLowerCase(), stripPrefix(ip.address).toLowerCase()]));
  const absent = (expect.ips ?? []).filter((want) => !got.has(want.toLowerCase()));
  if (absent.length > 0) {
    missing.push(`${absent.length === 1 ? "address" : "addresses"} ${absent.join(", ")} ("ips", capability "ips")`);
    capabilities.push('"ips": true');
  }
  if (expect.mac !== undefined) {
    const iface = (r.interfaces ?? []).find((i) => i.name === a.ifName && i.sandbox !== undefined && i.sandbox !== "");
    if (iface?.mac?.toLowerCase() !== expect.mac.toLowerCase()) {
      missing.push(`MAC ${expect.mac} ("mac", capability "mac")`);
      capabilities.push('"mac": true');
    }
  }
  if (missing.length === 0) return undefined;
  return new MultusError(
    "MULTUS_ERR_CAPABILITY_MISSING",
    `the result lacks the requested ${missing.join(" and ")}: no plugin of this network declares the capability, and the IP=/MAC= CNI_ARGS fallback was not honoured; add "capabilities": {${capabilities.join(", ")}} to the plugin that should apply it`,
  );
}
