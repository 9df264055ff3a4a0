// What multus-install did to a node, so that `multus-install uninstall` can put it back exactly:
// every file it wrote (with the content it wrote, so a file someone replaced since is left alone),
// every directory it created, every config it moved aside (from → to), every NAD it created.
// Each entry is recorded (atomically) *before* the action it describes: an installer killed at any
// point leaves a record that covers whatever it may have done.
import { readFile } from "node:fs/promises";
import { writeFileAtomic } from "../cni/atomic-write.ts";
import { isRecord } from "../cni/is-record.ts";

export interface InstallState {
  version: 1;
  type: "thick" | "thin";
  /** Directories that did not exist before (removed by uninstall when empty), deepest last. */
  createdDirs: string[];
  /**
   * Files written (executables, hard links, the kubeconfig), each with the hashes of every version
   * the installer wrote there (a file with another hash was changed by someone else and is kept),
   * and `backup`: where the file that was there before the first install is kept for uninstall.
   * "preserved": a path only written over by a move (its original is in `backup`).
   */
  files: { path: string; sha256s?: string[]; backup?: string; kind: "executable" | "alias" | "kubeconfig" | "preserved" }[];
  /** Config files that Multus (the daemon, or this installer) may write: removed when they are Multus configs. */
  multusConfigs: string[];
  /** Original configs moved aside (--move-original-config, --rename-conf-file). */
  moved: { from: string; to: string }[];
  /** NetworkAttachmentDefinitions created for moved configs. */
  nads: { namespace: string; name: string }[];
}

export function emptyState(type: "thick" | "thin"): InstallState {
  return { version: 1, type, createdDirs: [], files: [], multusConfigs: [], moved: [], nads: [] };
}

export async function loadState(path: string): Promise<InstallState | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new Error(`cannot read the install record ${path}: ${(err as Error).message}`, { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new Error(`the install record ${path} is not JSON (${(err as Error).message}); remove it to start over`, { cause: err });
  }
  if (!isRecord(json) || json["version"] !== 1) throw new Error(`the install record ${path} has an unknown format; remove it to start over`);
  const s = json as unknown as InstallState;
  return { ...emptyState(s.type), ...s };
}

/** The record, kept on disk; every `note…` writes it before returning. */
export class StateRecorder {
  readonly path: string;
  state: InstallState;

  constructor(path: string, state: InstallState) {
    this.path = path;
    this.state = state;
  }

  async save(): Promise<void> {
    await writeFileAtomic(this.path, `${JSON.stringify(this.state, null, 2)}\n`, { mode: 0o600 });
  }

  async noteDir(dir: string): Promise<void> {
    if (this.state.createdDirs.includes(dir)) return;
    this.state.createdDirs.push(dir);
    await this.save();
  }

  /** Adds the path (once; an existing entry keeps its backup and hashes). */
  async noteFile(entry: InstallState["files"][number]): Promise<void> {
    if (this.state.files.some((f) => f.path === entry.path)) return;
    this.state.files.push(entry);
    await this.save();
  }

  /** One more version of `path` that the installer writes. */
  async noteHash(path: string, sha256: string): Promise<void> {
    const f = this.state.files.find((e) => e.path === path);
    if (f === undefined) throw new Error(`install record: ${path} noted before its first write`);
    if (f.sha256s?.includes(sha256) === true) return;
    f.sha256s = [...(f.sha256s ?? []), sha256];
    await this.save();
  }

  async noteMultusConfig(path: string): Promise<void> {
    if (this.state.multusConfigs.includes(path)) return;
    this.state.multusConfigs.push(path);
    await this.save();
  }

  async noteMove(from: string, to: string): Promise<void> {
    if (this.state.moved.some((m) => m.from === from && m.to === to)) return;
    this.state.moved.push({ from, to });
    await this.save();
  }

  async noteNad(namespace: string, name: string): Promise<void> {
    if (this.state.nads.some((n) => n.namespace === namespace && n.name === name)) return;
    this.state.nads.push({ namespace, name });
    await this.save();
  }
}
