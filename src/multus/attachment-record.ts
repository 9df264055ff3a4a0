// The on-disk record of a pod sandbox's attachments: written atomically before the first delegate
// runs and removed only after every delegate DEL succeeded, so a crash or a failed DEL never loses
// what is needed to clean up (docs/architecture.md; upstream defects multus#355, #948, #1087).
import { mkdir, readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "../cni/atomic-write.ts";
import type { Attachment, AttachmentPlan, PodRef } from "./attachment-plan.ts";

const KIND = "multusTsAttachmentsV1";

type RecordedAttachment = Omit<Attachment, "index">;

interface RecordFile {
  kind: typeof KIND;
  containerId: string;
  netns: string;
  ifName: string;
  pod?: PodRef;
  attachments: RecordedAttachment[];
}

export class AttachmentRecords {
  readonly dir: string;

  /** `cniDir` is Multus's `cniDir` (default /var/lib/cni/multus); records live in its `attachments/`. */
  constructor(cniDir: string) {
    this.dir = join(cniDir, "attachments");
  }

  pathOf(containerId: string): string {
    return join(this.dir, `${containerId}.json`);
  }

  async write(plan: AttachmentPlan): Promise<void> {
    const file: RecordFile = {
      kind: KIND,
      containerId: plan.containerId,
      netns: plan.netns,
      ifName: plan.ifName,
      ...(plan.pod === undefined ? {} : { pod: plan.pod }),
      attachments: plan.attachments.map(({ index: _index, ...rest }) => rest),
    };
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    await writeFileAtomic(this.pathOf(plan.containerId), JSON.stringify(file), { mode: 0o600 });
  }

  /**
   * The recorded plan, or undefined when there is none. A record that cannot be parsed is reported
   * as `corrupt` rather than silently ignored: the caller decides how to rebuild.
   */
  async read(containerId: string): Promise<{ plan: AttachmentPlan } | { corrupt: string } | undefined> {
    let text: string;
    try {
      text = await readFile(this.pathOf(containerId), "utf8");
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
    const plan = decodeRecord(text);
    return typeof plan === "string" ? { corrupt: plan } : { plan };
  }

  async remove(containerId: string): Promise<void> {
    await rm(this.pathOf(containerId), { force: true });
  }

  /** Container IDs that have a record (for GC). */
  async list(): Promise<string[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      if (isNotFound(err)) return [];
      throw err;
    }
    return names.filter((n) => n.endsWith(".json")).map((n) => n.slice(0, -".json".length));
  }
}

function decodeRecord(text: string): AttachmentPlan | string {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return `not JSON: ${(err as Error).message}`;
  }
  if (!isRecordFile(json)) return `not a ${KIND} record`;
  const attachments: Attachment[] = json.attachments.map((a, index) => ({ index, ...a }));
  const plan: AttachmentPlan = { containerId: json.containerId, netns: json.netns, ifName: json.ifName, attachments };
  if (json.pod !== undefined) plan.pod = json.pod;
  return plan;
}

function isRecordFile(x: unknown): x is RecordFile {
  if (typeof x !== "object" || x === null) return false;
  const r = x as Record<string, unknown>;
  if (r["kind"] !== KIND || typeof r["containerId"] !== "string" || typeof r["netns"] !== "string") return false;
  if (typeof r["ifName"] !== "string" || !Array.isArray(r["attachments"])) return false;
  if (r["pod"] !== undefined && !isPodRef(r["pod"])) return false;
  return r["attachments"].every((a: unknown) => {
    if (typeof a !== "object" || a === null) return false;
    const e = a as Record<string, unknown>;
    const d = e["delegate"] as Record<string, unknown> | null;
    return (
      typeof e["network"] === "string" &&
      typeof e["ifName"] === "string" &&
      typeof e["isDefault"] === "boolean" &&
      typeof d === "object" && d !== null && typeof d["name"] === "string" && Array.isArray(d["plugins"]) &&
      Array.isArray(e["cniArgs"]) &&
      typeof e["capabilityArgs"] === "object" && e["capabilityArgs"] !== null &&
      (e["defaultRoute"] === undefined || (Array.isArray(e["defaultRoute"]) && e["defaultRoute"].every((g) => typeof g === "string")))
    );
  });
}

function isPodRef(x: unknown): x is PodRef {
  if (typeof x !== "object" || x === null) return false;
  const p = x as Record<string, unknown>;
  return typeof p["namespace"] === "string" && typeof p["name"] === "string" && typeof p["uid"] === "string";
}

function isNotFound(err: unknown): boolean {
  return typeof err === "object" && err !== null && (err as NodeJS.ErrnoException).code === "ENOENT";
}
