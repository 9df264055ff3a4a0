// When and how long to wait before retrying an API request. Pure functions; KubeClient applies them.
//
// Exported API:
//   interface RetryOptions { attempts, baseDelayMs, maxDelayMs }   DEFAULT_RETRY
//   backoffDelayMs(retry, attempt, random = Math.random): number
//       exponential (base·2^(attempt-1), capped at maxDelayMs) with "equal jitter": half fixed,
//       half random, so concurrent clients (every node's Multus after an API restart) spread out.
//   parseRetryAfter(header, now = Date.now()): number | undefined   — delta-seconds or HTTP-date, in ms
//   isRetryableStatus(status): boolean                                — 429 and 5xx except 501
//   isRetryableConnectionError(err): boolean                          — refused/reset/unreachable/DNS-again
//   isIdempotentMethod(method): boolean                               — GET HEAD PUT DELETE, and PATCH (see below)
import { errorCodeOf } from "./kube-api-error.ts";

export interface RetryOptions {
  /** Total tries including the first (1 = no retry). */
  attempts: number;
  /** Delay before the first retry; doubles each time. */
  baseDelayMs: number;
  /** Ceiling for one delay, and for a Retry-After we are willing to honour. */
  maxDelayMs: number;
}

/** ≈ upstream Multus' 2.5 s of retries for GET pod on 5xx / connection errors, in 3 tries. */
export const DEFAULT_RETRY: RetryOptions = { attempts: 3, baseDelayMs: 250, maxDelayMs: 2_000 };

/** Delay before retry number `attempt` (1 = the first retry). */
export function backoffDelayMs(retry: RetryOptions, attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/** RFC 9110 Retry-After: delta-seconds or an HTTP-date. Undefined when absent or unparseable. */
export function parseRetryAfter(header: string | undefined, now: number = Date.now()): number | undefined {
  if (header === undefined) return undefined;
  const s = header.trim();
  if (/^\d+$/.test(s)) return Number(s) * 1000;
  const at = Date.parse(s);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

/** 429 (API Priority and Fairness) and 5xx; not 501 (retrying cannot make it implemented). */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || (status >= 500 && status <= 599 && status !== 501);
}

const RETRYABLE_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "EPIPE", "EHOSTUNREACH", "ENETUNREACH", "EAI_AGAIN", "ETIMEDOUT", "ECONNABORTED", "UND_ERR_SOCKET"]);

/** The connection failed before an answer; TLS verification errors are not retried (they will not heal). */
export function isRetryableConnectionError(err: unknown): boolean {
  const code = errorCodeOf(err);
  return code !== undefined && RETRYABLE_CODES.has(code);
}

/**
 * Methods that can be sent again without doing the work twice. PATCH is included: a merge patch
 * setting fixed values (our network-status annotation) converges to the same object.
 */
export function isIdempotentMethod(method: string): boolean {
  return ["GET", "HEAD", "PUT", "DELETE", "PATCH"].includes(method.toUpperCase());
}
