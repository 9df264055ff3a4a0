// Act on an AttachmentPlan: ADD in order with rollback, DEL in reverse, CHECK, STATUS, GC.
// The record is written before the first delegate runs and removed only when nothing is left to undo.
import { CniError, toCniError } from "../cni/cni-error.ts";
import type { CniResult, NetConfList, ValidAttachment } from "../cni/types.ts";
import type { Attachment, AttachmentPlan } from "./attachment-plan.ts";
import type { AttachmentRecords } from "./attachment-record.ts";
import type { Logger } from "../util/logger.ts";

/** What one delegate call needs besides its config (libcni's RuntimeConf). */
export interface DelegateRequest {
  containerId: string;
  netns: string;
  ifName: string;
  args: [string, string][];
  capabilityArgs: Record<string, unknown>;
}

/** The CNI runtime as the executor sees it (implemented over src/cni/conflist-runner.ts). */
export interface DelegateRunner {
  add(list: NetConfList, req: DelegateRequest): Promise<CniResult>;
  del(list: NetConfList, req: DelegateRequest): Promise<void>;
  check(list: NetConfList, req: DelegateRequest): Promise<void>;
  status(list: NetConfList): Promise<void>;
  gc(list: NetConfList, valid: ValidAttachment[]): Promise<void>;
}


export interface AttachmentResult {
  attachment: Attachment;
  result: CniResult;
}

export class Executor {
  readonly #runner: DelegateRunner;
  readonly #records: AttachmentRecords;
  readonly #log: Logger;

  constructor(runner: DelegateRunner, records: AttachmentRecords, log: Logger) {
    this.#runner = runner;
    this.#records = records;
    this.#log = log;
  }

  /**
   * ADD every attachment in plan order. On the first failure, DEL what was attempted in reverse and
   * report the original error. The failing attachment is DELed too (a plugin may have half-configured
   * before failing, CNI-P-13) but only best-effort: its config may be what is broken (macvlan's DEL
   * fails like its ADD when the parent is missing), and it never completed. If rolling back an
   * attachment that did complete fails, the record is rewritten to those attachments and kept, so the
   * runtime's DEL retries exactly them.
   */
  async add(plan: AttachmentPlan): Promise<AttachmentResult[]> {
    await this.#records.write(plan);
    const done: AttachmentResult[] = [];
    for (const a of plan.attachments) {
      try {
        const result = await this.#runner.add(a.delegate, requestFor(plan, a));
        done.push({ attachment: a, result });
        this.#log.info({ containerId: plan.containerId, network: a.network, ifName: a.ifName }, "attachment added");
      } catch (err) {
        const cause = toCniError(err);
        this.#log.error({ containerId: plan.containerId, network: a.network, ifName: a.ifName, error: cause.message }, "attachment failed, rolling back");
        const failedCleanup = await this.#delAll(plan, [a]);
        for (const e of failedCleanup) this.#log.warn({ containerId: plan.containerId, error: e.message }, "DEL of the failed attachment failed");
        const completed = done.map((d) => d.attachment);
        const rollback = await this.#delAll(plan, completed);
        if (rollback.length === 0) {
          await this.#records.remove(plan.containerId);
        } else {
          await this.#records.write({ ...plan, attachments: completed });
        }
        const suffix = rollback.length === 0 ? "" : `; rollback also failed, will retry on DEL: ${rollback.map((e) => e.message).join("; ")}`;
        throw new CniError(cause.code, `network "${a.network}" (interface ${a.ifName}): ${cause.message}${suffix}`, cause.details, { cause });
      }
    }
    return done;
  }

  /**
   * DEL every attachment in reverse order. A failure does not stop the others (NPWG-25); the record
   * stays until all have succeeded, so no IP lease or interface is forgotten (upstream multus#355).
   * `bestEffort` is for a plan rebuilt without a record: the record is written before the first ADD
   * and removed only after a complete teardown, so without one nothing is known to be attached, and a
   * delegate whose DEL cannot succeed (its config is what is broken) must not block the sandbox forever.
   */
  async del(plan: AttachmentPlan, opts: { bestEffort?: boolean } = {}): Promise<void> {
    const errors = await this.#delAll(plan, plan.attachments);
    if (errors.length > 0 && opts.bestEffort === true) {
      this.#log.warn({ containerId: plan.containerId, errors: errors.map((e) => e.message) }, "DEL of a rebuilt plan failed; nothing was recorded as attached, so it is not retried");
      return;
    }
    if (errors.length > 0) {
      const first = errors[0] ?? new CniError(999, "unknown DEL failure");
      throw new CniError(first.code, errors.map((e) => e.message).join("; "), first.details);
    }
    await this.#records.remove(plan.containerId);
  }

  /** CHECK every attachment, stopping at the first failure (CNI-R-11). */
  async check(plan: AttachmentPlan): Promise<void> {
    for (const a of plan.attachments) {
      try {
        await this.#runner.check(a.delegate, requestFor(plan, a));
      } catch (err) {
        const cause = toCniError(err);
        throw new CniError(cause.code, `network "${a.network}" (interface ${a.ifName}): ${cause.message}`, cause.details, { cause });
      }
    }
  }

  /** STATUS of every delegate; the first failure is returned with its code (50/51) intact. */
  async status(delegates: readonly NetConfList[]): Promise<void> {
    for (const d of delegates) {
      try {
        await this.#runner.status(d);
      } catch (err) {
        const cause = toCniError(err);
        throw new CniError(cause.code, `network "${d.name}": ${cause.message}`, cause.details, { cause });
      }
    }
  }

  /**
   * GC: tear down every recorded sandbox the runtime no longer lists, then forward GC to every
   * delegate with the attachments that remain, named by the interfaces we gave them.
   */
  async gc(delegates: readonly NetConfList[], valid: readonly ValidAttachment[]): Promise<void> {
    const keep = new Set(valid.map((v) => v.containerID));
    const errors: CniError[] = [];
    const stillValid = new Map<string, ValidAttachment[]>();
    for (const containerId of await this.#records.list()) {
      const rec = await this.#records.read(containerId);
      if (rec === undefined) continue;
      if ("corrupt" in rec) {
        this.#log.warn({ containerId, reason: rec.corrupt, path: this.#records.pathOf(containerId) }, "unreadable attachment record skipped by GC");
        continue;
      }
      if (!keep.has(containerId)) {
        try {
          await this.del(rec.plan);
          this.#log.info({ containerId }, "stale attachments collected");
        } catch (err) {
          errors.push(toCniError(err));
        }
        continue;
      }
      for (const a of rec.plan.attachments) {
        const list = stillValid.get(a.network) ?? [];
        list.push({ containerID: containerId, ifname: a.ifName });
        stillValid.set(a.network, list);
      }
    }
    for (const d of delegates) {
      try {
        await this.#runner.gc(d, stillValid.get(d.name) ?? []);
      } catch (err) {
        errors.push(toCniError(err));
      }
    }
    if (errors.length > 0) {
      const first = errors[0] ?? new CniError(999, "unknown GC failure");
      throw new CniError(first.code, errors.map((e) => e.message).join("; "), first.details);
    }
  }

  async #delAll(plan: AttachmentPlan, attachments: readonly Attachment[]): Promise<CniError[]> {
    const errors: CniError[] = [];
    for (const a of [...attachments].reverse()) {
      try {
        await this.#runner.del(a.delegate, requestFor(plan, a));
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
