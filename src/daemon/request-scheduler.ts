// Admission and ordering of the daemon's CNI requests:
//   - at most `concurrency` requests run at once (upstream's `connectionLimit` key; the 64-pod burst
//     that OOM-kills upstream, multus#1346, queues here instead of forking 64 delegate chains at once);
//   - requests for one sandbox run one at a time, in arrival order (NPWG-26; the file locks of
//     sandbox-locks.ts enforce it across processes too, this keeps the daemon from parking workers on them);
//   - DEL goes first among the runnable requests: it frees IPs and is what a node under pressure needs;
//   - at most `queueLimit` requests (and `maxQueuedBytes` of request bodies) wait; beyond that, or after
//     `queueTimeoutMs` waiting for a slot, a request is refused with CNI error 11 ("try again later") —
//     the runtime retries — instead of growing memory without bound. Waiting behind an earlier request
//     for the same sandbox is not waiting for a slot: that may last `sandboxWaitMs` (the thin plugin
//     would wait as long on the sandbox's lock);
//   - drain() (shutdown) refuses every request not started yet, with error 11.
import { CniCode, CniError } from "../cni/cni-error.ts";

export interface SchedulerOptions {
  concurrency: number;
  queueLimit: number;
  queueTimeoutMs: number;
  maxQueuedBytes: number;
  /** How long a request may wait behind an earlier one for the same sandbox; default queueTimeoutMs. */
  sandboxWaitMs?: number;
}

export interface JobInfo {
  command: string;
  /** The sandbox (CNI_CONTAINERID); "" for node-wide commands (GC, STATUS). */
  key: string;
  /** Bytes the request holds while it waits. */
  bytes: number;
}

interface Waiting {
  info: JobInfo;
  seq: number;
  enqueuedAt: number;
  start: () => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

export class RequestScheduler {
  readonly #opts: SchedulerOptions;
  readonly #waiting: Waiting[] = [];
  /** Sandboxes with a request running, and that request's command. */
  readonly #busyKeys = new Map<string, string>();
  #draining: string | undefined;
  #running = 0;
  #queuedBytes = 0;
  #seq = 0;

  constructor(opts: SchedulerOptions) {
    this.#opts = opts;
  }

  get running(): number {
    return this.#running;
  }

  get queued(): number {
    return this.#waiting.length;
  }

  /** Runs `fn` when admitted; rejects with CNI error 11 when the daemon cannot take the request now. */
  async run<T>(info: JobInfo, fn: () => Promise<T>): Promise<T> {
    await this.#admit(info);
    try {
      return await fn();
    } finally {
      this.#running--;
      if (info.key !== "") this.#busyKeys.delete(info.key);
      this.#dispatch();
    }
  }

  /** Refuses every waiting request, and every later one, with CNI error 11 naming `reason`. */
  drain(reason: string): void {
    this.#draining = reason;
    for (const w of [...this.#waiting]) {
      this.#remove(w);
      w.reject(new CniError(CniCode.TryAgainLater, `${reason}: ${w.info.command} was not started; try again`));
    }
  }

  #admit(info: JobInfo): Promise<void> {
    if (this.#draining !== undefined) return Promise.reject(new CniError(CniCode.TryAgainLater, `${this.#draining}: ${info.command} refused; try again`));
    if (this.#runnable(info, this.#waiting.length) && this.#running < this.#opts.concurrency) {
      this.#take(info);
      return Promise.resolve();
    }
    if (this.#waiting.length >= this.#opts.queueLimit || this.#queuedBytes + info.bytes > this.#opts.maxQueuedBytes) {
      return Promise.reject(
        new CniError(
          CniCode.TryAgainLater,
          `multus-daemon is at capacity (${String(this.#running)} running, ${String(this.#waiting.length)} queued): ${info.command} refused, try again later`,
          "raise connectionLimit/queueLimit in the daemon config if the node really needs more at once",
        ),
      );
    }
    return new Promise<void>((resolve, reject) => {
      const entry: Waiting = {
        info,
        seq: this.#seq++,
        enqueuedAt: Date.now(),
        start: resolve,
        reject,
        timer: setTimeout(() => {
          this.#expire(entry);
        }, this.#opts.queueTimeoutMs),
      };
      entry.timer.unref();
      this.#waiting.push(entry);
      this.#queuedBytes += info.bytes;
    });
  }

  /** A waiting request's timer fired: refuse it, unless it only waits for its own sandbox and may go on. */
  #expire(entry: Waiting): void {
    const waited = Date.now() - entry.enqueuedAt;
    const position = this.#waiting.indexOf(entry);
    if (position < 0) return;
    const behind = this.#blockedBy(entry.info, position);
    const sandboxWaitMs = this.#opts.sandboxWaitMs ?? this.#opts.queueTimeoutMs;
    if (behind !== undefined && waited < sandboxWaitMs) {
      entry.timer = setTimeout(() => {
        this.#expire(entry);
      }, Math.min(this.#opts.queueTimeoutMs, sandboxWaitMs - waited));
      entry.timer.unref();
      return;
    }
    this.#remove(entry);
    entry.reject(
      new CniError(
        CniCode.TryAgainLater,
        behind !== undefined
          ? `${entry.info.command} for container ${entry.info.key} waited ${String(waited)} ms behind the ${behind} still running for it: try again later`
          : `${entry.info.command} waited ${String(waited)} ms in multus-daemon's queue without a free slot (${String(this.#running)} running): try again later`,
      ),
    );
    this.#dispatch();
  }

  /** The command this request waits behind for its sandbox (running, or queued before it); undefined if none. */
  #blockedBy(info: JobInfo, position: number): string | undefined {
    if (info.key === "") return undefined;
    const running = this.#busyKeys.get(info.key);
    if (running !== undefined) return running;
    for (let i = 0; i < position; i++) {
      const w = this.#waiting[i];
      if (w?.info.key === info.key) return `${w.info.command} queued before it`;
    }
    return undefined;
  }

  /** Whether a request may start: its sandbox is idle and no earlier waiting request is for the same sandbox. */
  #runnable(info: JobInfo, position: number): boolean {
    return this.#blockedBy(info, position) === undefined;
  }

  #take(info: JobInfo): void {
    this.#running++;
    if (info.key !== "") this.#busyKeys.set(info.key, info.command);
  }

  #remove(entry: Waiting): void {
    const i = this.#waiting.indexOf(entry);
    if (i < 0) return;
    this.#waiting.splice(i, 1);
    this.#queuedBytes -= entry.info.bytes;
    clearTimeout(entry.timer);
  }

  #dispatch(): void {
    while (this.#running < this.#opts.concurrency) {
      const next = this.#pick();
      if (next === undefined) return;
      this.#remove(next);
      this.#take(next.info);
      next.start();
    }
  }

  /** The first runnable DEL, else the first runnable request. */
  #pick(): Waiting | undefined {
    let firstOther: Waiting | undefined;
    for (let i = 0; i < this.#waiting.length; i++) {
      const w = this.#waiting[i];
      if (w === undefined || !this.#runnable(w.info, i)) continue;
      if (w.info.command === "DEL") return w;
      firstOther ??= w;
    }
    return firstOther;
  }
}
