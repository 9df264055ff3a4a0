// One time budget per operation: every wait (readiness file, locks, API requests) and every delegate
// gets what is left of it, so the whole operation ends before the runtime's own deadline (the kubelet
// gives a CRI call 2 minutes and then kills the plugin). Errors name the budget that ran out and the
// key that sets it (docs/configuration.md).
export class Budget {
  /** What the budget is for, in messages: "ADD", "rollback of the ADD", "DEL", … */
  readonly what: string;
  readonly totalMs: number;
  /** The config key that sets it, for messages ("operationTimeoutSeconds"). */
  readonly key: string;
  /** Epoch milliseconds. */
  readonly deadline: number;
  readonly #now: () => number;

  constructor(what: string, totalMs: number, key: string, now: () => number = Date.now) {
    this.what = what;
    this.totalMs = totalMs;
    this.key = key;
    this.#now = now;
    this.deadline = now() + totalMs;
  }

  remainingMs(): number {
    return Math.max(0, this.deadline - this.#now());
  }

  usedMs(): number {
    return this.totalMs - (this.deadline - this.#now());
  }

  expired(): boolean {
    return this.#now() >= this.deadline;
  }

  /** An AbortSignal that fires when the budget runs out. */
  signal(): AbortSignal {
    return AbortSignal.timeout(Math.max(1, this.remainingMs()));
  }

  /** "the ADD's 90 s budget (operationTimeoutSeconds)". */
  describe(): string {
    return `the ${this.what}'s ${formatSeconds(this.totalMs)} budget (${this.key})`;
  }
}

export function formatSeconds(ms: number): string {
  const s = ms / 1000;
  return `${Number.isInteger(s) ? String(s) : s.toFixed(1)} s`;
}
