// The admission webhook's HTTPS server (node:https):
//   POST /validate   admission.k8s.io/v1 AdmissionReview in, AdmissionReview out
//   GET  /healthz    "ok" while the process serves (liveness)
//   GET  /readyz     "ok" once the certificate and the config are loaded, 503 while shutting down
// Every request is bounded: headers within 5 s, the whole request within 10 s, a body of at most
// 6 MiB (an object of the apiserver's 1.5 MiB limit twice — object and oldObject — with JSON's
// escaping), and the checks within the deadline the apiserver sends (`?timeout=5s`), less a margin
// for the answer's way back. At most MAX_IN_FLIGHT reviews are read and checked at once (each may
// hold a 6 MiB body and its parse): anyone who can reach the Service — every pod, usually — could
// otherwise run the replicas out of memory with a few large bodies; beyond it a review gets 429 at
// once, before its body is read. A request that cannot be answered gets an HTTP error, and the
// kube-apiserver applies the webhook's failurePolicy.
import { createServer, type Server } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "../util/logger.ts";
import { MultusError } from "../util/multus-error.ts";
import { untilAborted } from "../util/until-aborted.ts";
import { admissionReviewResponse, decodeAdmissionReview, type AdmissionRequest, type AdmissionVerdict } from "./admission-review.ts";
import type { TlsMaterial, TlsSource } from "./webhook-tls.ts";

export const MAX_BODY_BYTES = 6 * 1024 * 1024;
/**
 * Reviews read and checked at once: 8 × (6 MiB body + its parse) stays well within the Deployment's
 * 192Mi limit; a real apiserver sends a few at a time (one per NAD write), each answered in ≈ 1 ms.
 */
export const MAX_IN_FLIGHT = 8;
const HEADERS_TIMEOUT_MS = 5_000;
const REQUEST_TIMEOUT_MS = 10_000;
/** When the apiserver names no timeout: its own default for a webhook is 10 s. */
const DEFAULT_CHECK_BUDGET_MS = 9_000;
const ANSWER_MARGIN_MS = 500;

export interface WebhookServerOptions {
  host: string;
  port: number;
  tls: TlsSource;
  /** Default MAX_IN_FLIGHT. */
  maxInFlight?: number;
  admit: (request: AdmissionRequest, signal: AbortSignal) => Promise<AdmissionVerdict>;
  logger: Logger;
}

export class WebhookServer {
  readonly #o: WebhookServerOptions;
  #server: Server | undefined;
  #ready = false;
  #inFlight = 0;

  constructor(options: WebhookServerOptions) {
    this.#o = options;
  }

  /** Loads the certificate, listens; resolves with the bound address. */
  async start(): Promise<AddressInfo> {
    const material = await this.#o.tls.load();
    const server = createServer({ ...secureOptions(material), minVersion: "TLSv1.2" }, (req, res) => {
      this.#handle(req, res);
    });
    server.headersTimeout = HEADERS_TIMEOUT_MS;
    server.requestTimeout = REQUEST_TIMEOUT_MS;
    this.#server = server;
    server.on("tlsClientError", (err) => {
      this.#o.logger.debug({ err: err.message }, "TLS handshake failed");
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.#o.port, this.#o.host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    this.#o.tls.watch((next) => {
      server.setSecureContext(secureOptions(next));
      this.#o.logger.info({}, "serving certificate replaced");
    });
    this.#ready = true;
    return server.address() as AddressInfo;
  }

  /** Stops taking connections, lets requests in flight finish (up to graceMs), then closes the rest. */
  async stop(graceMs = 5_000): Promise<void> {
    this.#ready = false;
    this.#o.tls.close();
    const server = this.#server;
    if (server === undefined) return;
    const closed = new Promise<void>((resolve) => server.close(() => { resolve(); }));
    server.closeIdleConnections();
    const deadline = Date.now() + graceMs;
    while (this.#inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    server.closeAllConnections();
    await closed;
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? "/", "https://webhook");
    if (req.method === "GET" && url.pathname === "/healthz") {
      plain(res, 200, "ok");
      return;
    }
    if (req.method === "GET" && url.pathname === "/readyz") {
      plain(res, this.#ready ? 200 : 503, this.#ready ? "ok" : "not ready");
      return;
    }
    if (url.pathname !== "/validate" || req.method !== "POST") {
      plain(res, url.pathname === "/validate" ? 405 : 404, "POST /validate, GET /healthz, GET /readyz");
      return;
    }
    if (this.#inFlight >= (this.#o.maxInFlight ?? MAX_IN_FLIGHT)) {
      // Not read: the connection is closed after the answer, so its body is never buffered.
      res.setHeader("connection", "close");
      res.setHeader("retry-after", "1");
      plain(res, 429, `more than ${String(this.#o.maxInFlight ?? MAX_IN_FLIGHT)} admission reviews at once; try again`);
      req.resume();
      return;
    }
    this.#inFlight++;
    res.once("close", () => {
      this.#inFlight--;
    });
    const budget = checkBudgetMs(url.searchParams.get("timeout"));
    void this.#validate(req, budget).then(
      (body) => {
        res.writeHead(200, { "content-type": "application/json" }).end(body);
      },
      (err: unknown) => {
        const status = err instanceof WebhookRequestError ? err.status : err instanceof MultusError && err.errorCode === "MULTUS_ERR_WEBHOOK_REQUEST" ? 400 : 500;
        this.#o.logger.error({ status, err: (err as Error).message }, "admission request not answered");
        plain(res, status, (err as Error).message);
      },
    );
  }

  async #validate(req: IncomingMessage, budgetMs: number): Promise<string> {
    const signal = AbortSignal.timeout(budgetMs);
    const json = await readJsonBody(req, signal);
    const request = decodeAdmissionReview(json);
    const verdict = await untilAborted(this.#o.admit(request, signal), signal, () => new Error(`the checks did not finish within ${String(budgetMs)} ms`));
    this.#o.logger.info(
      { uid: request.uid, kind: request.kind.kind, namespace: request.namespace, name: request.name, operation: request.operation, allowed: verdict.allowed, warnings: verdict.warnings.length },
      "admission review",
    );
    return JSON.stringify(admissionReviewResponse(request.uid, verdict));
  }
}

function secureOptions(m: TlsMaterial): { cert: string; key: string } {
  return { cert: m.certPem, key: m.keyPem };
}

function plain(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { "content-type": "text/plain; charset=utf-8" }).end(`${text}\n`);
}

/** The apiserver sends its deadline as `?timeout=<Go duration>` (e.g. "5s"); we answer before it. */
export function checkBudgetMs(timeout: string | null): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(timeout ?? "");
  if (m === null) return DEFAULT_CHECK_BUDGET_MS;
  const ms = Number(m[1]) * (m[2] === "ms" ? 1 : m[2] === "s" ? 1000 : 60_000);
  return Math.max(100, Math.min(DEFAULT_CHECK_BUDGET_MS, ms - ANSWER_MARGIN_MS));
}

/** A request the webhook cannot read, with the HTTP status that says why. */
class WebhookRequestError extends MultusError {
  readonly status: number;
  constructor(status: number, message: string) {
    super("MULTUS_ERR_WEBHOOK_REQUEST", message);
    this.status = status;
  }
}

function readJsonBody(req: IncomingMessage, signal: AbortSignal): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const fail = (status: number, message: string): void => {
      req.destroy();
      reject(new WebhookRequestError(status, message));
    };
    const declared = Number(req.headers["content-length"] ?? "0");
    if (declared > MAX_BODY_BYTES) {
      fail(413, `the AdmissionReview is larger than ${MAX_BODY_BYTES} bytes`);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const onAbort = (): void => {
      fail(408, "the AdmissionReview did not arrive in time");
    };
    signal.addEventListener("abort", onAbort, { once: true });
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) fail(413, `the AdmissionReview is larger than ${MAX_BODY_BYTES} bytes`);
      else chunks.push(chunk);
    });
    req.on("error", (err) => {
      signal.removeEventListener("abort", onAbort);
      reject(new WebhookRequestError(400, `reading the AdmissionReview: ${err.message}`));
    });
    req.on("end", () => {
      signal.removeEventListener("abort", onAbort);
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString("utf8")));
      } catch (err) {
        reject(new WebhookRequestError(400, `the AdmissionReview is not JSON: ${(err as Error).message}`));
      }
    });
  });
}

