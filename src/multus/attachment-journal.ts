// The journal of a pod sandbox's attachments: `<cniDir>/attachments/<containerID>.json`, one small
// JSON file per sandbox holding the plan and, per attachment, how far it got. Every transition that
// changes what a DEL would do is written atomically (temp file, fsync, rename, fsync of the directory)
// before the step it announces, so after a crash at any point (kill -9, power loss) a DEL knows what
// may exist (docs/architecture.md, "What is durable", says which writes skip the fsync and why):
//
//   planned  → never started: DEL skips it
//   adding   → its ADD was started and did not report back: DEL is strict (it may exist)
//   added    → its ADD succeeded: DEL is strict
//   failed   → its ADD reported an error: DEL is best-effort (the plugin's config may be what is
//              broken; by the CNI contract the plugin cleans up after its own failed ADD)
//   deleting → a DEL or a rollback tried it and failed: DEL is strict, and repeated until it succeeds
//              (a DEL does not announce itself: "adding"/"added" are as strict)
//
// The file is removed only when nothing in it can exist any more (upstream defects multus#355, #948,
// #1087). Version 1 files (the first release: no states) are read as every attachment `added`.
// Each attachment's delegate config is stored as the gate admitted it, with its source; reading it back
// goes through the same model (restoreDelegateConfig: what an earlier ADD ran, so only Multus's own
// programs are refused). Journals of releases that recorded no source read as a record of their own.
import { mkdirSync, readFileSync, statSync, unlinkSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { settled } from "../cni/settled.ts";
import { join } from "node:path";
import { writeFileAtomic } from "../cni/atomic-write.ts";
import { isRecord } from "../cni/is-record.ts";
import { DelegateConfigError, restoreDelegateConfig, type DelegateSource } from "../cni/delegate-config.ts";
import type { NetConfList } from "../cni/types.ts";
import type { Attachment, AttachmentPlan, PodRef } from "./attachment-plan.ts";

const KIND_V1 = "multusTsAttachmentsV1";
const KIND = "multusTsAttachmentsV2";

export const ATTACHMENT_STATES = ["planned", "adding", "added", "failed", "deleting"] as const;
export type AttachmentState = (typeof ATTACHMENT_STATES)[number];

/** The plan with each attachment's state, index-aligned with `plan.attachments`. */
export interface JournalEntry {
  plan: AttachmentPlan;
  states: AttachmentState[];
  /**
   * Attachments of the file the gate refuses to run again (one of Multus's own programs, recorded by a
   * release before the gate): left out of the plan, each with why. The others are torn down as usual.
   */
  refused?: string[];
}

type StoredAttachment = Omit<Attachment, "index" | "delegate"> & { delegate: NetConfList; source?: DelegateSource; state?: AttachmentState; index?: unknown };

interface JournalFile {
  kind: typeof KIND | typeof KIND_V1;
  containerId: string;
  netns: string;
  ifName: string;
  pod?: PodRef;
  attachments: StoredAttachment[];
}

export type JournalRead = { entry: JournalEntry } | { corrupt: string } | undefined;

export class AttachmentJournal {
  readonly dir: string;

  /** `cniDir` is Multus's `cniDir` (default /var/lib/cni/multus); journals live in its `attachments/`. */
  constructor(cniDir: string) {
    this.dir = join(cniDir, "attachments");
  }

  pathOf(containerId: string): string {
    return join(this.dir, `${containerId}.json`);
  }

  /**
   * `durable: "file"` (the file fsynced, not the directory) only where the version it replaces is an
   * equally safe record after a reboot (writeFileAtomic): the last write of a successful ADD, whose
   * "adding" before it is as strict. A journal is never written without an fsync of its data.
   */
  async write(entry: JournalEntry, opts: { durable?: true | "file" } = {}): Promise<void> {
    const { plan, states } = entry;
    const file: JournalFile = {
      kind: KIND,
      containerId: plan.containerId,
      netns: plan.netns,
      ifName: plan.ifName,
      ...(plan.pod === undefined ? {} : { pod: plan.pod }),
      attachments: plan.attachments.map(({ index, delegate, ...rest }): StoredAttachment => ({ ...rest, delegate: delegate.list, source: delegate.source, state: states[index] ?? "planned" })),
    };
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    await writeFileAtomic(this.pathOf(plan.containerId), JSON.stringify(file), { mode: 0o600, durable: opts.durable ?? true });
  }

  /**
   * The journal, or undefined when there is none. A file that cannot be decoded is reported as
   * `corrupt` (the caller logs it and decides); any other read error (EACCES, EIO) is thrown, since
   * guessing would turn a strict teardown into a best-effort one.
   */
  read(containerId: string): Promise<JournalRead> {
    // Synchronous inside: a small local file read before every ADD and DEL (a thread-pool round trip
    // costs more than the read).
    return settled(() => {
      let text: string;
      try {
        text = readFileSync(this.pathOf(containerId), "utf8");
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
      const decoded = decodeJournal(text, this.pathOf(containerId));
      return typeof decoded === "string" ? { corrupt: decoded } : { entry: decoded };
    });
  }

  /** Whether the sandbox may have a journal, without reading it (an unexpected stat error: yes). */
  has(containerId: string): boolean {
    try {
      return statSync(this.pathOf(containerId), { throwIfNoEntry: false }) !== undefined;
    } catch {
      return true;
    }
  }

  remove(containerId: string): Promise<void> {
    return settled(() => {
      // unlink, not rmSync: rmSync's directory handling costs ≈ 0.5 ms per call here.
      try {
        unlinkSync(this.pathOf(containerId));
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    });
  }

  /** Container IDs that have a journal (for GC). */
  async list(): Promise<string[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      if (isNotFound(err)) return [];
      throw err;
    }
    // Temporary files of an interrupted write start with "." and are not journals.
    return names.filter((n) => n.endsWith(".json") && !n.startsWith(".")).map((n) => n.slice(0, -".json".length));
  }
}

/** The attachments a DEL must run, and how: strict (must succeed) or best-effort. */
export function teardownOf(entry: JournalEntry): { attachment: Attachment; strict: boolean }[] {
  return entry.plan.attachments.flatMap((attachment) => {
    const state = entry.states[attachment.index] ?? "planned";
    if (state === "planned") return [];
    return [{ attachment, strict: state !== "failed" }];
  });
}

function decodeJournal(text: string, path: string): JournalEntry | string {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return `not JSON: ${(err as Error).message}`;
  }
  if (!isJournalFile(json)) return `not a ${KIND} or ${KIND_V1} journal`;
  const attachments: Attachment[] = [];
  const states: AttachmentState[] = [];
  const refused: string[] = [];
  // A stored "index" is not the attachment's: its position in the plan is (teardownOf looks states up by it).
  for (const [stored, { state, source, delegate, index: _stored, ...a }] of json.attachments.entries()) {
    const recorded: DelegateSource = source ?? { kind: "record", where: `the journal ${path}, attachment ${String(stored)}` };
    let restored;
    try {
      restored = restoreDelegateConfig(delegate, recorded);
    } catch (err) {
      // One attachment the gate will not run again does not cost the others their strict teardown.
      if (err instanceof DelegateConfigError) {
        refused.push(`attachment ${String(stored)} (${a.network}, ${a.ifName}): ${err.message}`);
        continue;
      }
      throw err;
    }
    attachments.push({ index: attachments.length, ...a, delegate: restored });
    states.push(json.kind === KIND_V1 ? "added" : (state ?? "adding"));
  }
  const plan: AttachmentPlan = { containerId: json.containerId, netns: json.netns, ifName: json.ifName, attachments };
  if (json.pod !== undefined) plan.pod = json.pod;
  return refused.length === 0 ? { plan, states } : { plan, states, refused };
}

function isJournalFile(x: unknown): x is JournalFile {
  if (!isRecord(x)) return false;
  if ((x["kind"] !== KIND && x["kind"] !== KIND_V1) || typeof x["containerId"] !== "string" || typeof x["netns"] !== "string") return false;
  if (typeof x["ifName"] !== "string" || !Array.isArray(x["attachments"])) return false;
  if (x["pod"] !== undefined && !isPodRef(x["pod"])) return false;
  const v2 = x["kind"] === KIND;
  return x["attachments"].every((a: unknown) => {
    if (!isRecord(a)) return false;
    const d = a["delegate"];
    return (
      typeof a["network"] === "string" &&
      typeof a["ifName"] === "string" &&
      typeof a["isDefault"] === "boolean" &&
      isRecord(d) && typeof d["name"] === "string" && Array.isArray(d["plugins"]) &&
      Array.isArray(a["cniArgs"]) && a["cniArgs"].every((p: unknown) => Array.isArray(p) && p.length === 2 && typeof p[0] === "string" && typeof p[1] === "string") &&
      isRecord(a["capabilityArgs"]) &&
      (a["defaultRoute"] === undefined || isStringList(a["defaultRoute"])) &&
      (a["expect"] === undefined || (isRecord(a["expect"]) && (a["expect"]["ips"] === undefined || isStringList(a["expect"]["ips"])) && (a["expect"]["mac"] === undefined || typeof a["expect"]["mac"] === "string"))) &&
      (a["device"] === undefined || isDevice(a["device"])) &&
      (a["source"] === undefined || isSource(a["source"])) &&
      (!v2 || (ATTACHMENT_STATES as readonly unknown[]).includes(a["state"]))
    );
  });
}

/** The fields each kind of source carries (DelegateSource), required and optional. */
const SOURCE_FIELDS: Readonly<Record<string, { required: readonly string[]; optional: readonly string[] }>> = {
  admin: { required: ["where"], optional: [] },
  hotplug: { required: ["where"], optional: [] },
  record: { required: ["where"], optional: [] },
  nad: { required: ["namespace", "name"], optional: ["file"] },
  annotation: { required: ["namespace", "name", "pod"], optional: ["file"] },
};

function isSource(x: unknown): x is DelegateSource {
  if (!isRecord(x) || typeof x["kind"] !== "string") return false;
  const shape = Object.hasOwn(SOURCE_FIELDS, x["kind"]) ? SOURCE_FIELDS[x["kind"]] : undefined;
  if (shape === undefined) return false;
  const known = new Set(["kind", ...shape.required, ...shape.optional]);
  // A legacy Network's source (`nad` with `legacy: true`, src/netattach/legacy-network.ts) is the one non-string field.
  const flag = (k: string, v: unknown): boolean => k === "legacy" && x["kind"] === "nad" && v === true;
  return shape.required.every((k) => typeof x[k] === "string") && Object.entries(x).every(([k, v]) => flag(k, v) || (known.has(k) && typeof v === "string"));
}

function isDevice(x: unknown): boolean {
  if (!isRecord(x) || typeof x["id"] !== "string" || typeof x["infoFile"] !== "string") return false;
  return (x["resourceName"] === undefined || typeof x["resourceName"] === "string") && (x["dpInfoFile"] === undefined || typeof x["dpInfoFile"] === "string");
}

function isStringList(x: unknown): x is string[] {
  return Array.isArray(x) && x.every((g) => typeof g === "string");
}

function isPodRef(x: unknown): x is PodRef {
  return isRecord(x) && typeof x["namespace"] === "string" && typeof x["name"] === "string" && typeof x["uid"] === "string";
}

function isNotFound(err: unknown): boolean {
  return typeof err === "object" && err !== null && (err as NodeJS.ErrnoException).code === "ENOENT";
}
