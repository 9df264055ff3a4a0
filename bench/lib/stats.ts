// Order statistics of latency samples, and how the bench prints them.
//
// Exported API:
//   summarize(samples): Summary        p50, p90, p99 and max (nearest rank), n
//   interface Summary { n, p50, p90, p99, max }
//   ms(value): string                  "12.3" (one decimal), "–" for NaN

export interface Summary {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentiles: the smallest sample with at least q of the samples at or below it. */
export function summarize(samples: readonly number[]): Summary {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number): number => (s.length === 0 ? Number.NaN : (s[Math.max(0, Math.ceil(q * s.length) - 1)] ?? Number.NaN));
  return { n: s.length, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: s.length === 0 ? Number.NaN : (s[s.length - 1] ?? Number.NaN) };
}

export function ms(value: number): string {
  return Number.isFinite(value) ? value.toFixed(1) : "–";
}
