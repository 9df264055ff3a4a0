// The locks every operation on a node takes, shared by the thin plugin (one process per call) and the
// daemon (many calls in one process), so that a node can switch between them:
//
//   <cniDir>/locks/.node.lock          shared by ADD, DEL and CHECK; exclusive for GC (CNI-R-12: GC
//                                      never runs concurrently with ADD or DEL, on any container)
//   <cniDir>/locks/<containerID>.lock  exclusive per sandbox (CNI-R-16, NPWG-26)
//
// Both are flock(2) locks (src/util/file-lock.ts) whose descriptors the delegates inherit: if Multus is
// killed while a delegate runs, the locks stay held until that delegate has exited, so the runtime's
// DEL (or a GC) waits for the orphan and then tears down what it made. An exclusive holder (an
// operation on the sandbox, or GC on the node lock) keeps a note in the lock file of who holds it (PID,
// command, deadline, running delegates), so that a waiter can say whom it waits for and, once the killed
// holder's deadline has passed, SIGKILL its orphaned delegates.
// The container lock file is removed (under the lock) when the sandbox has no journal left.
import { readdirSync, readFileSync, readlinkSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { isRecord } from "../cni/is-record.ts";
import type { Budget } from "../util/budget.ts";
import { formatSeconds } from "../util/budget.ts";
import { acquireFileLock, LockTimeoutError, LockUnavailableError, readLockNote, type FileLock } from "../util/file-lock.ts";
import type { Logger } from "../util/logger.ts";
import { MultusError } from "../util/multus-error.ts";

const NODE_LOCK = ".node.lock";

export interface HolderNote {
  pid: number;
  /** /proc start time of `pid`, so that a reused PID is not mistaken for the holder. */
  start: string;
  command: string;
  containerId: string;
  since: string;
  /** Epoch ms after which the holder's delegates have overstayed their budget. */
  deadline: number;
  delegates: { pid: number; start: string; plugin: string }[];
  /**
   * The holder's PID namespace (`pid:[inode]`): its PIDs mean nothing in another one (a daemon in a
   * container without hostPID, and the thin plugin on the host). Absent in notes of older releases.
   */
  pidns?: string;
}

/** This process's PID namespace, as /proc names it; "" when it cannot be read. */
const OWN_PIDNS = ((): string => {
  try {
    return readlinkSync("/proc/self/ns/pid");
  } catch {
    return "";
  }
})();

/** What a held sandbox lock gives the executor: descriptors for the delegates and PID bookkeeping. */
export interface DelegateLockContext {
  inheritFds: readonly number[];
  onSpawn: (pid: number, plugin: string) => void;
  onExit: (pid: number) => void;
}

/**
 * The note an exclusive holder keeps in its lock file (who, until when, which delegates run), kept
 * up to date as delegates start and exit. Not durable: it describes a live holder.
 */
class HolderNoteWriter {
  readonly #lock: FileLock;
  readonly #note: HolderNote;

  constructor(lock: FileLock, note: HolderNote) {
    this.#lock = lock;
    this.#note = note;
    this.#write();
  }

  delegateStarted(pid: number, plugin: string): void {
    this.#note.delegates.push({ pid, start: processStart(pid) ?? "", plugin });
    this.#write();
  }

  delegateExited(pid: number): void {
    this.#note.delegates = this.#note.delegates.filter((d) => d.pid !== pid);
    this.#write();
  }

  #write(): void {
    try {
      this.#lock.note(JSON.stringify(this.#note));
    } catch {
      // The note only improves a waiter's message and its handling of orphans; the lock is what matters.
    }
  }
}

export class SandboxLock implements DelegateLockContext {
  readonly inheritFds: readonly number[];
  readonly #node: FileLock;
  readonly #container: FileLock;
  readonly #note: HolderNoteWriter;

  constructor(node: FileLock, container: FileLock, note: HolderNote) {
    this.#node = node;
    this.#container = container;
    this.#note = new HolderNoteWriter(container, note);
    this.inheritFds = [node.fd, container.fd];
  }

  readonly onSpawn = (pid: number, plugin: string): void => {
    this.#note.delegateStarted(pid, plugin);
  };

  readonly onExit = (pid: number): void => {
    this.#note.delegateExited(pid);
  };

  /** `forget`: the sandbox has no journal any more, so its lock file goes too. */
  release(opts: { forget?: boolean } = {}): void {
    this.#container.release({ unlink: opts.forget === true });
    this.#node.release();
  }
}

/**
 * GC's exclusive hold of the node lock. Its delegates (the DELs of stale sandboxes, plugin GC) inherit
 * it, and it keeps a holder note in the node lock file, so that a GC killed mid-way is handled like a
 * killed ADD: its orphans are waited for, and killed once its deadline has passed.
 */
export class NodeLock implements DelegateLockContext {
  readonly inheritFds: readonly number[];
  readonly #lock: FileLock;
  readonly #note: HolderNoteWriter;

  constructor(lock: FileLock, note: HolderNote) {
    this.#lock = lock;
    this.#note = new HolderNoteWriter(lock, note);
    this.inheritFds = [lock.fd];
  }

  readonly onSpawn = (pid: number, plugin: string): void => {
    this.#note.delegateStarted(pid, plugin);
  };

  readonly onExit = (pid: number): void => {
    this.#note.delegateExited(pid);
  };

  release(): void {
    // Shared holders never write the node lock file; an old GC's note must not outlive its GC.
    try {
      this.#lock.note("");
    } catch {
      // As above.
    }
    this.#lock.release();
  }
}

export class SandboxLocks {
  readonly dir: string;
  readonly #log: Logger;

  constructor(cniDir: string, log: Logger) {
    this.dir = join(cniDir, "locks");
    this.#log = log;
  }

  /** The node lock (shared) and the sandbox's lock (exclusive), waiting at most until the budget ends. */
  async forSandbox(containerId: string, command: string, budget: Budget): Promise<SandboxLock> {
    const path = join(this.dir, `${containerId}.lock`);
    for (;;) {
      // Taken together: GC never waits for a sandbox lock while holding the node lock, so no cycle.
      const [node, container] = await Promise.allSettled([
        this.#acquire(join(this.dir, NODE_LOCK), "shared", budget, () => { this.#reap(join(this.dir, NODE_LOCK)); }, `the node lock (a GC is running)`),
        this.#acquire(path, "exclusive", budget, () => { this.#reap(path); }, `container ${containerId}'s lock`),
      ]);
      if (node.status === "fulfilled" && container.status === "fulfilled") {
        // A GC that ran while we waited for the node lock may have removed the sandbox's lock file.
        if (!container.value.stillNamed()) {
          container.value.release();
          node.value.release();
          continue;
        }
        return this.#held(node.value, container.value, containerId, command, budget);
      }
      if (node.status === "fulfilled") node.value.release();
      if (container.status === "fulfilled") container.value.release();
      throw (node.status === "rejected" ? node.reason : (container as PromiseRejectedResult).reason) as Error;
    }
  }

  #held(node: FileLock, container: FileLock, containerId: string, command: string, budget: Budget): SandboxLock {
    return new SandboxLock(node, container, this.#noteFor(command, containerId, budget));
  }

  /**
   * GC only, under the node lock held exclusively: remove the lock files of sandboxes `keep` does not
   * name. No operation can be inside such a sandbox now; one waiting for the node lock notices the
   * removal once it has it (forSandbox) and locks afresh.
   */
  removeUnused(keep: ReadonlySet<string>): void {
    for (const id of this.#sandboxIds()) {
      if (keep.has(id)) continue;
      try {
        unlinkSync(join(this.dir, `${id}.lock`));
      } catch {
        // Gone already.
      }
    }
  }

  /** The container IDs that have a lock file. */
  #sandboxIds(): string[] {
    try {
      return readdirSync(this.dir).filter((n) => n.endsWith(".lock") && n !== NODE_LOCK).map((n) => n.slice(0, -".lock".length));
    } catch {
      return [];
    }
  }

  /** GC: the node lock, exclusive. */
  async forGc(budget: Budget): Promise<NodeLock> {
    const path = join(this.dir, NODE_LOCK);
    // Shared holders are ADD/DEL/CHECK operations, or delegates a killed one left running.
    const lock = await this.#acquire(path, "exclusive", budget, () => { this.#reapAll(); }, "the node lock (ADD/DEL/CHECK operations are running)");
    return new NodeLock(lock, this.#noteFor("GC", "", budget));
  }

  #noteFor(command: string, containerId: string, budget: Budget): HolderNote {
    return { pid: process.pid, start: processStart(process.pid) ?? "", command, containerId, since: new Date().toISOString(), deadline: budget.deadline, delegates: [], pidns: OWN_PIDNS };
  }

  async #acquire(path: string, mode: "shared" | "exclusive", budget: Budget, onBusy: () => void, what: string): Promise<FileLock> {
    let announced = false;
    const busy = (): void => {
      if (!announced) {
        announced = true;
        this.#log.info({ lock: path, mode, waitingFor: what }, "waiting for a lock");
      }
      onBusy();
    };
    try {
      return await acquireFileLock(path, { mode, deadline: budget.deadline, onBusy: busy });
    } catch (err) {
      if (err instanceof LockTimeoutError) {
        const holder = describeHolder(readNote(path));
        throw new MultusError(
          "MULTUS_ERR_LOCKED",
          `${budget.describe()} ran out after ${formatSeconds(err.waitedMs)} waiting for ${what}${holder}; the runtime will retry`,
          { cause: err },
        );
      }
      if (err instanceof LockUnavailableError) {
        throw new MultusError("MULTUS_ERR_LOCKED", `cannot lock ${path}: ${err.message}`, { cause: err, cniCode: 999 });
      }
      throw err;
    }
  }

  /** GC waiting for the node lock: the orphans of every sandbox lock whose holder is gone hold it shared. */
  #reapAll(): void {
    for (const id of this.#sandboxIds()) this.#reap(join(this.dir, `${id}.lock`));
  }

  readonly #announced = new Set<string>();

  /**
   * The holder of `path` is waited for while it lives. A holder that is gone (killed) but whose
   * delegates still run is an orphan: they are waited for until the holder's deadline, then killed
   * (with their process group), so that no plugin outlives a killed Multus unnoticed.
   */
  #reap(path: string): void {
    const note = readNote(path);
    if (note === undefined) return;
    const key = `${path}:${String(note.pid)}:${note.since}`;
    if (!samePidns(note)) {
      // Its PIDs are another namespace's: nothing can be told about them, and nothing is killed.
      if (!this.#announced.has(key)) {
        this.#announced.add(key);
        this.#log.warn(
          { containerId: note.containerId, holderPid: note.pid, command: note.command, pidns: note.pidns, ownPidns: OWN_PIDNS },
          "the lock is held by a multus in another PID namespace (run multus-daemon with hostPID); waiting for the lock only",
        );
      }
      return;
    }
    if (isAlive(note.pid, note.start)) {
      if (!this.#announced.has(key)) {
        this.#announced.add(key);
        this.#log.info({ containerId: note.containerId, holderPid: note.pid, command: note.command, since: note.since }, "waiting for the operation that holds the lock to finish");
      }
      return;
    }
    // A delegate whose start time was not recorded could be a reused PID: never killed.
    const orphans = note.delegates.filter((d) => d.start !== "" && isAlive(d.pid, d.start));
    if (orphans.length === 0) return;
    if (Date.now() < note.deadline) {
      if (!this.#announced.has(key)) {
        this.#announced.add(key);
        this.#log.warn(
          { containerId: note.containerId, holderPid: note.pid, command: note.command, delegates: orphans.map((d) => `${d.plugin} (pid ${String(d.pid)})`), until: new Date(note.deadline).toISOString() },
          "the multus that started these delegates is gone; waiting for them to finish before touching the sandbox",
        );
      }
      return;
    }
    for (const d of orphans) {
      try {
        process.kill(-d.pid, "SIGKILL");
      } catch {
        try {
          process.kill(d.pid, "SIGKILL");
        } catch {
          // Exited meanwhile.
        }
      }
      this.#log.warn(
        { containerId: note.containerId, holderPid: note.pid, command: note.command, plugin: d.plugin, pid: d.pid },
        "killed a delegate orphaned by a killed multus after its deadline; its attachment will be torn down",
      );
    }
  }
}

function readNote(path: string): HolderNote | undefined {
  const text = readLockNote(path);
  return text === undefined ? undefined : decodeHolderNote(text);
}

/** The holder note a lock file keeps (multusctl diagnose reads it); undefined when there is none. */
export const readHolderNote = readNote;

/**
 * Whether a note's holder still runs, and which of its delegates do, by the same rules waiters use
 * (PID and start time; a holder in another PID namespace cannot be told).
 */
export function holderState(note: HolderNote): { holder: "alive" | "gone" | "unknown"; liveDelegates: string[] } {
  if (!samePidns(note)) return { holder: "unknown", liveDelegates: [] };
  return {
    holder: isAlive(note.pid, note.start) ? "alive" : "gone",
    liveDelegates: note.delegates.filter((d) => isAlive(d.pid, d.start)).map((d) => `${d.plugin} (pid ${String(d.pid)})`),
  };
}

/** The note in a lock file's text; undefined for anything that is not a whole, well-typed note. */
export function decodeHolderNote(text: string): HolderNote | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    // Written by a holder while we read it, or by someone else: no note is as good as a wrong one.
    return undefined;
  }
  if (!isRecord(v)) return undefined;
  const { pid, start, command, containerId, since, deadline, delegates, pidns } = v;
  if (typeof pid !== "number" || typeof start !== "string" || typeof command !== "string" || typeof containerId !== "string") return undefined;
  if (typeof since !== "string" || typeof deadline !== "number" || !Array.isArray(delegates)) return undefined;
  return {
    pid,
    start,
    command,
    containerId,
    since,
    deadline,
    delegates: delegates.flatMap((d: unknown) =>
      isRecord(d) && typeof d["pid"] === "number" && typeof d["start"] === "string" && typeof d["plugin"] === "string" ? [{ pid: d["pid"], start: d["start"], plugin: d["plugin"] }] : [],
    ),
    ...(typeof pidns === "string" ? { pidns } : {}),
  };
}

/** Whether the note's PIDs are ours to look at (notes without a namespace come from this release's predecessor, on the host). */
function samePidns(note: HolderNote): boolean {
  return note.pidns === undefined || note.pidns === "" || OWN_PIDNS === "" || note.pidns === OWN_PIDNS;
}

function describeHolder(note: HolderNote | undefined): string {
  if (note === undefined) return "";
  if (!samePidns(note)) return `, held by ${note.command} of a multus in another PID namespace (pid ${String(note.pid)} there) since ${note.since}`;
  const alive = isAlive(note.pid, note.start);
  const delegates = note.delegates.filter((d) => isAlive(d.pid, d.start)).map((d) => `${d.plugin} (pid ${String(d.pid)})`);
  const who = `${note.command} by multus pid ${String(note.pid)} since ${note.since}`;
  if (alive) return `, held by ${who}`;
  if (delegates.length > 0) return `, held by delegates ${delegates.join(", ")} of ${who} (that process is gone)`;
  return `, last held by ${who}; another process (a child that inherited the lock) still holds it`;
}

/**
 * Field 22 of /proc/<pid>/stat (start time in clock ticks), or undefined when there is no such
 * process or it has exited (a zombie waiting to be reaped holds no descriptor any more).
 */
function processStart(pid: number): string | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${String(pid)}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may contain spaces: split after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  if (fields[0] === "Z" || fields[0] === "X") return undefined;
  return fields[19];
}

function isAlive(pid: number, start: string): boolean {
  const now = processStart(pid);
  return now !== undefined && (start === "" || now === start);
}
