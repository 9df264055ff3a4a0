// Device-info files (device-info spec 1.1.0, DI-02/DI-03). The device plugin (or DRA driver) writes
// one per device under <dir>/dp/; for each attachment with a device Multus makes the per-attachment
// file under <dir>/cni/ (a copy of the device's, when there is one), passes its path to the delegate
// as runtimeConfig.CNIDeviceInfoFile (plugins that declare it may write it), reads it into
// network-status `device-info` after the ADD, and deletes it on DEL. The path is recorded in the
// journal with the attachment before the delegate runs, so a DEL after a crash finds it.
import { mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "../cni/atomic-write.ts";
import { containerInfoMark } from "./paths.ts";

/**
 * Before the delegate's ADD: the cni directory exists, and the device's own file (if the device plugin
 * wrote one) is copied to the attachment's, read-only as nad-client writes it.
 */
export async function prepareAttachmentInfo(infoFile: string, dpFile: string | undefined): Promise<void> {
  mkdirSync(join(infoFile, ".."), { recursive: true, mode: 0o755 });
  if (dpFile === undefined) return;
  let data: Buffer;
  try {
    data = readFileSync(dpFile);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    throw err;
  }
  // Not fsynced: a reboot ends the pod's sandbox, and with it the file's purpose.
  await writeFileAtomic(infoFile, data, { mode: 0o444, durable: false });
}

/**
 * After the ADD: the attachment file's JSON (the caller validates it as device-info), or undefined when
 * there is none. A file that cannot be read or parsed is reported through `warn` and left out of
 * network-status: it came from a device plugin or a delegate, and the attachment itself works.
 */
export function readAttachmentInfo(infoFile: string, warn: (message: string) => void): unknown {
  let text: string;
  try {
    text = readFileSync(infoFile, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") warn(`${infoFile}: ${(err as Error).message}`);
    return undefined;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    warn(`${infoFile}: not JSON: ${(err as Error).message}`);
    return undefined;
  }
}

export function removeAttachmentInfo(infoFile: string): void {
  rmSync(infoFile, { force: true });
}

/** Removes the attachment files (`cni/*-device.json`) whose name `doomed` picks. */
function removeInfoFiles(dir: string, doomed: (name: string) => boolean): void {
  const cni = join(dir, "cni");
  let names: string[];
  try {
    names = readdirSync(cni);
  } catch {
    return;
  }
  for (const n of names) if (n.endsWith("-device.json") && doomed(n)) rmSync(join(cni, n), { force: true });
}

/** Every attachment file of a container (a DEL without a journal still leaves none). */
export function removeContainerInfo(dir: string, containerId: string): void {
  const mark = containerInfoMark(containerId);
  removeInfoFiles(dir, (n) => n.includes(mark));
}

/**
 * GC: the attachment files of containers in neither `keep` (the runtime's valid attachments and the
 * journals left) — what a failed rollback's DEL could leave with no DEL to follow.
 */
export function removeInfoExcept(dir: string, keep: ReadonlySet<string>): void {
  const marks = [...keep].map(containerInfoMark);
  removeInfoFiles(dir, (n) => !marks.some((m) => n.includes(m)));
}
