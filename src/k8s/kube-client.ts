// A minimal Kubernetes API client on node:http(s): JSON requests with deadlines, retries with
// backoff, typed errors, a bearer token that follows rotation, and watches that cannot stall
// forever. @kubernetes/client-node is not used: it costs ≈80 ms of start-up on the CNI hot path and
// its watches are known to stall.
//
// Exported API:
//   class KubeClient(config: ClientConfig, options?: KubeClientOptions)
//     get(path, opts?)                      → Promise<unknown>; with opts.decode → Promise<T>
//     list(path, opts?)                     → Promise<KubeList<unknown | T>>; follows `continue` when opts.limit is set
//     create(path, body, opts?)             → POST; retried only with opts.retry === true (a POST may
//                                             have taken effect before the connection broke)
//     patch(path, body, type, opts?)        → type "merge" | "strategic" | "json"
//                                             (create and patch with opts.ignoreResponse: the returned
//                                             object is not decoded; resolves to undefined)
//     delete(path, opts?)                   → Promise<unknown> (the deleted object or a Status)
//     watch(path, opts?)                    → AsyncIterable<WatchEvent<unknown | T>> (chunked JSON lines).
//         ERROR events become thrown KubeApiErrors; 410 (resourceVersion too old) is KubeGoneError —
//         catch it (isGone) and re-list. No byte for `idleTimeoutMs` → KubeWatchIdleError. A server-side
//         `timeoutSeconds` (randomised 5–10 min) ends the iteration normally: watch again from the last
//         event's resourceVersion. Aborting `signal` ends the iteration quietly.
//     close()                               → ends the connection (HTTP/2 session or keep-alive sockets)
//     protocol()                            → "h2" | "http/1.1" | undefined: what the connection negotiated
//   interface KubeClientOptions, RequestOptions, ListOptions, CreateOptions, WatchOptions
//   type Decoder<T>, PatchType, WatchEvent<T>, interface KubeList<T>
//
// Behaviour common to every request:
//   - Deadline: `requestTimeoutMs` (default 10 s) per attempt, covering connect, headers and body
//     (for a watch: until the headers). Caller and client-wide AbortSignals cancel too.
//   - Retries (`retry`: attempts 3, baseDelayMs 250, maxDelayMs 2000): connection errors, 429 and
//     5xx, for GET/HEAD/PUT/DELETE/PATCH (and POST when asked); exponential backoff with jitter;
//     Retry-After honoured, but a Retry-After beyond maxDelayMs fails at once (CNI code 11 lets the
//     runtime retry later instead of blocking the CNI call). A request that reached its deadline is not
//     retried: its time is spent. A request that never reached the server (a keep-alive socket it had
//     closed, an HTTP/2 stream it refused or a session it was closing) is retried once for every method.
//   - Transport (http-transport.ts): HTTP/2 over one TLS connection where the server offers it
//     (concurrent requests share it), HTTP/1.1 with a keep-alive agent otherwise.
//   - 401: the token is read again (tokenFile, or the kubeconfig for an inline token) and, if it
//     changed, the request is sent once more (multus#852).
//   - Size: a body (or watch event) over `maxResponseBytes` (32 MiB) fails with MULTUS_ERR_TOO_LARGE, unretried.
//   - Errors: see kube-api-error.ts (NotFound, Conflict, Gone, Forbidden for 401/403, else MULTUS_ERR_API
//     with the API's Status.message).
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http";
import type { Readable } from "node:stream";
import { StringDecoder } from "node:string_decoder";
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "../util/logger.ts";
import { parseApiPath, rbacVerb } from "./api-path.ts";
import { BearerToken } from "./bearer-token.ts";
import type { ClientConfig } from "./client-config.ts";
import {
  connectionError,
  errorCodeOf,
  errorFromStatus,
  invalidResponseError,
  KubeApiError,
  parseStatus,
  timeoutError,
  tooLargeError,
  watchIdleError,
} from "./kube-api-error.ts";
import type { RequestDescription } from "./kube-api-error.ts";
import { HttpTransport, RETRY_SAFE } from "./http-transport.ts";
import { backoffDelayMs, DEFAULT_RETRY, isIdempotentMethod, isRetryableConnectionError, isRetryableStatus, parseRetryAfter } from "./retry-policy.ts";
import type { RetryOptions } from "./retry-policy.ts";
import { isRecord } from "../cni/is-record.ts";

export interface KubeClientOptions {
  /** Deadline of one attempt (connect + headers + body). Default 10 000 ms. */
  requestTimeoutMs?: number;
  retry?: Partial<RetryOptions>;
  logger?: Logger;
  /** Wins over config.userAgent; default "multus-ts". */
  userAgent?: string;
  /** Cancels every request and watch of this client (daemon shutdown). */
  signal?: AbortSignal;
  /** Default idle timeout of a watch. Default 150 000 ms (the API sends a bookmark about every minute). */
  watchIdleTimeoutMs?: number;
  /** Jitter source; tests pass a fixed one. */
  random?: () => number;
  /** A response body (or one watch event) larger than this fails with MULTUS_ERR_TOO_LARGE. Default 32 MiB. */
  maxResponseBytes?: number;
}

const DEFAULT_MAX_RESPONSE = 32 * 1024 * 1024;

export type Decoder<T> = (value: unknown) => T;

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  signal?: AbortSignal;
  /** Overrides requestTimeoutMs for this request. */
  timeoutMs?: number;
  /**
   * The caller needs only the success, not the object the API sends back (a patched pod, a created
   * event): its body is read but not decoded, and the call resolves to undefined.
   */
  ignoreResponse?: boolean;
}

export interface ListOptions extends RequestOptions {
  labelSelector?: string;
  fieldSelector?: string;
  /** Page size; when set, every page is fetched and the items concatenated. */
  limit?: number;
  /** "0" = any cached version (cheap, possibly stale); absent = the latest (quorum read). */
  resourceVersion?: string;
}

export interface CreateOptions extends RequestOptions {
  /** Retry on connection errors / 429 / 5xx even though POST is not idempotent. */
  retry?: boolean;
}

export type PatchType = "merge" | "strategic" | "json";

const PATCH_CONTENT_TYPES: Readonly<Record<PatchType, string>> = {
  merge: "application/merge-patch+json",
  strategic: "application/strategic-merge-patch+json",
  json: "application/json-patch+json",
};

export interface WatchOptions {
  /** Start after this version (from a list or the last event); absent = "start from the latest state". */
  resourceVersion?: string;
  labelSelector?: string;
  fieldSelector?: string;
  signal?: AbortSignal;
  /** No byte (event or bookmark) for this long → KubeWatchIdleError. */
  idleTimeoutMs?: number;
  /** Server-side end of the watch; default random 300–599 s, so many watchers do not reconnect together. */
  timeoutSeconds?: number;
}

export type WatchEvent<T> =
  | { type: "ADDED" | "MODIFIED" | "DELETED"; object: T; resourceVersion: string }
  | { type: "BOOKMARK"; resourceVersion: string };

export interface KubeList<T> {
  /** The collection's resourceVersion: watch from here. */
  resourceVersion: string;
  items: T[];
}

interface SendInit {
  query?: RequestOptions["query"];
  body?: unknown;
  contentType?: string;
  signal?: AbortSignal | undefined;
  timeoutMs?: number | undefined;
  retryable: boolean;
}

interface Response {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

interface OpenStream {
  res: Readable;
  abort: AbortController;
}

export class KubeClient {
  readonly config: ClientConfig;
  readonly #transport: HttpTransport;
  readonly #token: BearerToken;
  readonly #timeoutMs: number;
  readonly #maxBytes: number;
  readonly #retry: RetryOptions;
  readonly #logger: Logger | undefined;
  readonly #userAgent: string;
  readonly #signal: AbortSignal | undefined;
  readonly #watchIdleMs: number;
  readonly #random: () => number;

  constructor(config: ClientConfig, options: KubeClientOptions = {}) {
    this.config = config;
    this.#timeoutMs = options.requestTimeoutMs ?? 10_000;
    this.#maxBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE;
    this.#retry = { ...DEFAULT_RETRY, ...options.retry };
    this.#logger = options.logger;
    this.#userAgent = options.userAgent ?? config.userAgent ?? "multus-ts";
    this.#signal = options.signal;
    this.#watchIdleMs = options.watchIdleTimeoutMs ?? 150_000;
    this.#random = options.random ?? Math.random;
    this.#token = new BearerToken(config);
    // One connection for every request: HTTP/2 where the server speaks it (http-transport.ts).
    this.#transport = new HttpTransport(config);
  }

  /** Ends the connections; in-flight requests fail. */
  close(): void {
    this.#transport.close();
  }

  /** The protocol the client's connection negotiated ("h2", "http/1.1"), once it has one. */
  protocol(): "h2" | "http/1.1" | undefined {
    return this.#transport.protocol();
  }

  get(path: string, opts?: RequestOptions): Promise<unknown>;
  get<T>(path: string, opts: RequestOptions & { decode: Decoder<T> }): Promise<T>;
  async get(path: string, opts: RequestOptions & { decode?: Decoder<unknown> } = {}): Promise<unknown> {
    const d = describe("GET", path);
    const res = await this.#send(d, { ...requestInit(opts), retryable: isIdempotentMethod(d.method) });
    return decodeWith(d, opts.decode, parseJson(d, res.body));
  }

  list(path: string, opts?: ListOptions): Promise<KubeList<unknown>>;
  list<T>(path: string, opts: ListOptions & { decode: Decoder<T> }): Promise<KubeList<T>>;
  async list(path: string, opts: ListOptions & { decode?: Decoder<unknown> } = {}): Promise<KubeList<unknown>> {
    const d = describe("GET", path);
    const items: unknown[] = [];
    let resourceVersion = "";
    let cont: string | undefined;
    do {
      const query = {
        ...opts.query,
        labelSelector: opts.labelSelector,
        fieldSelector: opts.fieldSelector,
        limit: opts.limit,
        continue: cont,
        // A continue token pins the snapshot; resourceVersion is only for the first page.
        resourceVersion: cont === undefined ? opts.resourceVersion : undefined,
      };
      const res = await this.#send(d, { ...requestInit(opts), query, retryable: isIdempotentMethod(d.method) });
      const page = parseJson(d, res.body);
      if (!isRecord(page) || !Array.isArray(page["items"])) throw invalidResponseError(d, "a list without items");
      const meta = isRecord(page["metadata"]) ? page["metadata"] : {};
      if (cont === undefined && typeof meta["resourceVersion"] === "string") resourceVersion = meta["resourceVersion"];
      for (const item of page["items"] as unknown[]) items.push(decodeWith(d, opts.decode, item));
      cont = typeof meta["continue"] === "string" && meta["continue"] !== "" && opts.limit !== undefined ? meta["continue"] : undefined;
    } while (cont !== undefined);
    return { resourceVersion, items };
  }

  create(path: string, body: unknown, opts?: CreateOptions): Promise<unknown>;
  create<T>(path: string, body: unknown, opts: CreateOptions & { decode: Decoder<T> }): Promise<T>;
  async create(path: string, body: unknown, opts: CreateOptions & { decode?: Decoder<unknown> } = {}): Promise<unknown> {
    const d = describe("POST", path);
    const res = await this.#send(d, { ...requestInit(opts), body, contentType: "application/json", retryable: opts.retry === true });
    if (opts.ignoreResponse === true) return undefined;
    return decodeWith(d, opts.decode, parseJson(d, res.body));
  }

  patch(path: string, body: unknown, type: PatchType, opts?: RequestOptions): Promise<unknown>;
  patch<T>(path: string, body: unknown, type: PatchType, opts: RequestOptions & { decode: Decoder<T> }): Promise<T>;
  async patch(path: string, body: unknown, type: PatchType, opts: RequestOptions & { decode?: Decoder<unknown> } = {}): Promise<unknown> {
    const d = describe("PATCH", path);
    const res = await this.#send(d, { ...requestInit(opts), body, contentType: PATCH_CONTENT_TYPES[type], retryable: isIdempotentMethod(d.method) });
    if (opts.ignoreResponse === true) return undefined;
    return decodeWith(d, opts.decode, parseJson(d, res.body));
  }

  async delete(path: string, opts: RequestOptions = {}): Promise<unknown> {
    const d = describe("DELETE", path);
    const res = await this.#send(d, { ...requestInit(opts), retryable: isIdempotentMethod(d.method) });
    return parseJson(d, res.body);
  }

  watch(path: string, opts?: WatchOptions): AsyncIterable<WatchEvent<unknown>>;
  watch<T>(path: string, opts: WatchOptions & { decode: Decoder<T> }): AsyncIterable<WatchEvent<T>>;
  watch(path: string, opts: WatchOptions & { decode?: Decoder<unknown> } = {}): AsyncIterable<WatchEvent<unknown>> {
    return this.#watch(path, opts);
  }

  async *#watch(path: string, opts: WatchOptions & { decode?: Decoder<unknown> }): AsyncGenerator<WatchEvent<unknown>> {
    const d = describe("GET", path, true);
    const idleMs = opts.idleTimeoutMs ?? this.#watchIdleMs;
    const query = {
      watch: "true",
      allowWatchBookmarks: "true",
      resourceVersion: opts.resourceVersion,
      labelSelector: opts.labelSelector,
      fieldSelector: opts.fieldSelector,
      timeoutSeconds: opts.timeoutSeconds ?? 300 + Math.floor(this.#random() * 300),
    };
    const external = this.#externalSignals(opts.signal);
    let stream: OpenStream;
    try {
      stream = await this.#open(d, { query, signal: opts.signal, retryable: isIdempotentMethod(d.method) });
    } catch (err) {
      if (external.some((s) => s.aborted)) return;
      throw err;
    }
    const { res, abort } = stream;
    const idle = new Error("watch idle");
    const timer = setTimeout(() => {
      abort.abort(idle);
    }, idleMs);
    const decoder = new StringDecoder("utf8");
    let buffered = "";
    try {
      for await (const chunk of res as AsyncIterable<Buffer>) {
        timer.refresh();
        buffered += decoder.write(chunk);
        if (buffered.length > this.#maxBytes) throw tooLargeError(d, this.#maxBytes);
        let nl: number;
        while ((nl = buffered.indexOf("\n")) >= 0) {
          const line = buffered.slice(0, nl).trim();
          buffered = buffered.slice(nl + 1);
          if (line === "") continue;
          yield this.#watchEvent(d, line, opts.decode);
          // The consumer's own time does not count as server silence.
          timer.refresh();
        }
      }
      const rest = (buffered + decoder.end()).trim();
      if (rest !== "") yield this.#watchEvent(d, rest, opts.decode);
    } catch (err) {
      if (err instanceof KubeApiError) throw err;
      if (abort.signal.reason === idle) throw watchIdleError(d, idleMs);
      if (external.some((s) => s.aborted)) return;
      throw connectionError(d, this.config.server, err, 1);
    } finally {
      clearTimeout(timer);
      // Also runs when the consumer breaks out early: the server stops streaming to us.
      res.destroy();
    }
  }

  #watchEvent(d: RequestDescription, line: string, decode: Decoder<unknown> | undefined): WatchEvent<unknown> {
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch (err) {
      throw invalidResponseError(d, `a watch event that is not JSON: ${line.slice(0, 120)}`, err);
    }
    if (!isRecord(raw) || typeof raw["type"] !== "string") throw invalidResponseError(d, `a watch event without a type: ${line.slice(0, 120)}`);
    const type = raw["type"];
    const object = raw["object"];
    if (type === "ERROR") {
      const status = parseStatus(object) ?? {};
      throw errorFromStatus(d, status.code ?? 500, status, this.#token.credentials());
    }
    const meta = isRecord(object) && isRecord(object["metadata"]) ? object["metadata"] : {};
    const resourceVersion = typeof meta["resourceVersion"] === "string" ? meta["resourceVersion"] : "";
    if (type === "BOOKMARK") return { type, resourceVersion };
    if (type === "ADDED" || type === "MODIFIED" || type === "DELETED") {
      return { type, object: decodeWith(d, decode, object), resourceVersion };
    }
    throw invalidResponseError(d, `a watch event of unknown type ${type}`);
  }

  #externalSignals(signal: AbortSignal | undefined): AbortSignal[] {
    const out: AbortSignal[] = [];
    if (signal !== undefined) out.push(signal);
    if (this.#signal !== undefined) out.push(this.#signal);
    return out;
  }

  #url(path: string, query: SendInit["query"]): URL {
    const url = new URL(this.config.server.href);
    url.pathname = url.pathname.replace(/\/+$/, "") + path;
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) params.set(k, String(v));
    url.search = params.toString();
    return url;
  }

  /** A whole request/response exchange, with retries; resolves with a 2xx response. */
  async #send(d: RequestDescription, init: SendInit): Promise<Response> {
    const { res } = await this.#retrying(d, init, async (url, headers, payload, external, timeoutMs) => {
      const deadline = AbortSignal.timeout(timeoutMs);
      const signal = AbortSignal.any([deadline, ...external]);
      try {
        const res = await this.#transport.exchange(d.method, url, headers, payload, signal);
        const body = await readAll(res.body, this.#maxBytes, d);
        return { kind: "response", res: { status: res.status, headers: res.headers, body } };
      } catch (err) {
        return { kind: "failure", err, timedOut: deadline.aborted, reused: retrySafe(err) };
      }
    });
    return res;
  }

  /** Like #send, but a 2xx response is handed over unread (a watch stream) with its AbortController. */
  async #open(d: RequestDescription, init: SendInit): Promise<OpenStream> {
    const { stream } = await this.#retrying(d, init, async (url, headers, payload, external, timeoutMs) => {
      const abort = new AbortController();
      let timedOut = false;
      // A deadline for the headers only; the stream then lives until its idle timeout or the server ends it.
      const headerTimer = setTimeout(() => {
        timedOut = true;
        abort.abort();
      }, timeoutMs);
      const signal = AbortSignal.any([abort.signal, ...external]);
      try {
        const res = await this.#transport.exchange(d.method, url, headers, payload, signal);
        const status = res.status;
        if (status >= 200 && status < 300) {
          clearTimeout(headerTimer);
          return { kind: "response", res: { status, headers: res.headers, body: Buffer.alloc(0) }, stream: { res: res.body, abort } };
        }
        const body = await readAll(res.body, this.#maxBytes, d);
        clearTimeout(headerTimer);
        return { kind: "response", res: { status, headers: res.headers, body } };
      } catch (err) {
        clearTimeout(headerTimer);
        return { kind: "failure", err, timedOut, reused: retrySafe(err) };
      }
    });
    if (stream === undefined) throw new Error("KubeClient: watch stream missing after a 2xx answer");
    return stream;
  }

  async #retrying(
    d: RequestDescription,
    init: SendInit,
    attemptOnce: (url: URL, headers: OutgoingHttpHeaders, payload: Buffer | undefined, external: AbortSignal[], timeoutMs: number) => Promise<AttemptOutcome>,
  ): Promise<{ res: Response; stream?: OpenStream }> {
    const url = this.#url(d.path, init.query);
    const timeoutMs = init.timeoutMs ?? this.#timeoutMs;
    const external = this.#externalSignals(init.signal);
    const payload = init.body === undefined ? undefined : Buffer.from(JSON.stringify(init.body));
    let authRetried = false;
    let resetRetried = false;
    for (let attempt = 1; ; attempt++) {
      const token = await this.#token.current();
      const headers: OutgoingHttpHeaders = { Accept: "application/json", "User-Agent": this.#userAgent };
      if (token !== undefined) headers["Authorization"] = `Bearer ${token}`;
      if (payload !== undefined) {
        headers["Content-Type"] = init.contentType ?? "application/json";
        headers["Content-Length"] = payload.length;
      }
      const started = performance.now();
      const outcome = await attemptOnce(url, headers, payload, external, timeoutMs);
      const durationMs = Math.round(performance.now() - started);

      if (outcome.kind === "failure") {
        // Our own verdict on the answer (too large): the same request would get the same answer.
        if (outcome.err instanceof KubeApiError) throw outcome.err;
        const aborted = external.find((s) => s.aborted);
        if (aborted !== undefined) throw aborted.reason;
        if (outcome.timedOut) throw timeoutError(d, this.config.server, timeoutMs);
        // The request never reached the server (a keep-alive socket it had closed, a stream it
        // refused or a session it was closing: http-transport.ts): sending it again is safe for any method.
        if (outcome.reused && !resetRetried) {
          resetRetried = true;
          attempt--;
          continue;
        }
        if (init.retryable && isRetryableConnectionError(outcome.err) && attempt < this.#retry.attempts) {
          const delayMs = backoffDelayMs(this.#retry, attempt, this.#random);
          this.#logger?.warn({ method: d.method, path: d.path, attempt, delayMs, error: errorCodeOf(outcome.err) }, "kube request retried");
          await sleep(delayMs, undefined, signalOf(external));
          continue;
        }
        throw connectionError(d, this.config.server, outcome.err, attempt);
      }

      const { res } = outcome;
      this.#logger?.debug({ method: d.method, path: d.path, status: res.status, attempt, durationMs }, "kube request");
      if (res.status >= 200 && res.status < 300) return outcome;

      if (res.status === 401 && !authRetried && (await this.#token.refreshAfterUnauthorized(token))) {
        authRetried = true;
        attempt--;
        this.#logger?.info({ method: d.method, path: d.path }, "kube token changed after 401; retrying");
        continue;
      }
      const text = res.body.toString("utf8");
      const status = parseStatus(tryJson(text)) ?? text;
      const retryAfterMs = parseRetryAfter(headerValue(res.headers["retry-after"]));
      const err = errorFromStatus(d, res.status, status, this.#token.credentials(), retryAfterMs);
      if (init.retryable && isRetryableStatus(res.status) && attempt < this.#retry.attempts) {
        // Honour Retry-After; one longer than we would ever wait fails now (CNI 11: the runtime retries later).
        if (retryAfterMs !== undefined && retryAfterMs > this.#retry.maxDelayMs) throw err;
        const delayMs = retryAfterMs ?? backoffDelayMs(this.#retry, attempt, this.#random);
        this.#logger?.warn({ method: d.method, path: d.path, attempt, delayMs, status: res.status }, "kube request retried");
        await sleep(delayMs, undefined, signalOf(external));
        continue;
      }
      throw err;
    }
  }
}

type AttemptOutcome =
  | { kind: "response"; res: Response; stream?: OpenStream }
  | { kind: "failure"; err: unknown; timedOut: boolean; /** The request never reached the server. */ reused: boolean };

function describe(method: string, path: string, watch = false): RequestDescription {
  const target = parseApiPath(path);
  return { method, path, target, verb: rbacVerb(method, target, watch) };
}

function requestInit(opts: RequestOptions): Pick<SendInit, "query" | "signal" | "timeoutMs"> {
  return { query: opts.query, signal: opts.signal, timeoutMs: opts.timeoutMs };
}

function signalOf(signals: AbortSignal[]): { signal?: AbortSignal } {
  if (signals.length === 0) return {};
  return { signal: signals.length === 1 && signals[0] !== undefined ? signals[0] : AbortSignal.any(signals) };
}

/** Whether the transport says the request never reached the server. */
function retrySafe(err: unknown): boolean {
  return typeof err === "object" && err !== null && (err as { [RETRY_SAFE]?: boolean })[RETRY_SAFE] === true;
}

async function readAll(res: Readable, maxBytes: number, d: RequestDescription): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) {
      res.destroy();
      throw tooLargeError(d, maxBytes);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

function parseJson(d: RequestDescription, body: Buffer): unknown {
  if (body.length === 0) return undefined;
  try {
    return JSON.parse(body.toString("utf8"));
  } catch (err) {
    throw invalidResponseError(d, `not JSON: ${body.subarray(0, 120).toString("utf8")}`, err);
  }
}

function tryJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function decodeWith(d: RequestDescription, decode: Decoder<unknown> | undefined, value: unknown): unknown {
  if (decode === undefined) return value;
  try {
    return decode(value);
  } catch (err) {
    throw invalidResponseError(d, err instanceof Error ? err.message : String(err), err);
  }
}

function headerValue(h: string | string[] | undefined): string | undefined {
  return Array.isArray(h) ? h[0] : h;
}

