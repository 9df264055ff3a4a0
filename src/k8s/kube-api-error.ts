// Typed errors for Kubernetes API requests, built from the API's Status object. Each is a
// MultusError (stable code, CNI code, one-line message naming the object, the RBAC verb, the HTTP
// status and what to do), so the engine can return it to the runtime as is.
//
// Exported API:
//   class KubeApiError extends MultusError        — any failed request; `httpStatus` is undefined when
//                                                   no HTTP answer came (connection error, deadline)
//     class KubeNotFoundError                       — 404 (code MULTUS_ERR_POD_NOT_FOUND for pods,
//                                                   MULTUS_ERR_NAD_NOT_FOUND for NADs, else MULTUS_ERR_API)
//     class KubeConflictError                       — 409 (Conflict or AlreadyExists; see `reason`)
//     class KubeGoneError                           — 410 (watch too old / continue token expired): re-list
//     class KubeForbiddenError                      — 401 and 403, code MULTUS_ERR_API_FORBIDDEN
//     class KubeWatchIdleError                      — a watch delivered nothing for its idle timeout
//   isNotFound / isConflict / isAlreadyExists / isGone / isForbidden / isWatchIdle (err: unknown): boolean
//   parseStatus(body: unknown): KubeStatus | undefined
//   type Credentials                              — which credential a request carried (for 401 messages)
//   interface RequestDescription                  — method, path, target, verb
//   errorFromStatus(req, httpStatus, status | text, credentials, retryAfterMs?): KubeApiError
//   connectionError(req, server, cause, attempts): KubeApiError
//   timeoutError(req, server, timeoutMs): KubeApiError
import { MultusError } from "../util/multus-error.ts";
import type { MultusErrorCode } from "../util/multus-error.ts";
import { describeResource, describeTarget } from "./api-path.ts";
import type { ApiTarget } from "./api-path.ts";

/** The fields of metav1.Status that errors use. */
export interface KubeStatus {
  code?: number;
  reason?: string;
  message?: string;
  details?: { name?: string; kind?: string; group?: string };
}

/** What was asked, for messages: "patch status of Pod default/web-0". */
export interface RequestDescription {
  method: string;
  path: string;
  target: ApiTarget;
  /** The RBAC verb (get, list, watch, create, patch, …). */
  verb: string;
}

/** Which credential a request carried, so a 401 can say which one to fix. */
export type Credentials =
  | { kind: "tokenFile"; file: string }
  | { kind: "token"; kubeconfig?: string }
  | { kind: "clientCertificate"; kubeconfig?: string }
  | { kind: "none"; kubeconfig?: string };

interface KubeApiErrorInit {
  code: MultusErrorCode;
  request: RequestDescription;
  httpStatus?: number;
  reason: string;
  apiMessage?: string;
  retryAfterMs?: number;
  cause?: unknown;
}

export class KubeApiError extends MultusError {
  /** The HTTP status; undefined when no answer came (connection error, deadline). */
  readonly httpStatus: number | undefined;
  /** Status.reason (NotFound, Forbidden, Expired, …) or ours: ConnectionError, Timeout, InvalidResponse, WatchIdle. */
  readonly reason: string;
  /** Status.message as the API sent it. */
  readonly apiMessage: string | undefined;
  readonly request: RequestDescription;
  /** From a Retry-After header, when there was one. */
  readonly retryAfterMs: number | undefined;

  constructor(message: string, init: KubeApiErrorInit) {
    super(init.code, message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = "KubeApiError";
    this.httpStatus = init.httpStatus;
    this.reason = init.reason;
    this.apiMessage = init.apiMessage;
    this.request = init.request;
    this.retryAfterMs = init.retryAfterMs;
  }
}

export class KubeNotFoundError extends KubeApiError {
  /** The API server does not serve the resource type at all (a CRD not installed, an API version not enabled), as opposed to the object. */
  readonly typeNotServed: boolean;
  constructor(message: string, init: KubeApiErrorInit, typeNotServed = false) {
    super(message, init);
    this.name = "KubeNotFoundError";
    this.typeNotServed = typeNotServed;
  }
}

export class KubeConflictError extends KubeApiError {
  constructor(message: string, init: KubeApiErrorInit) {
    super(message, init);
    this.name = "KubeConflictError";
  }
}

export class KubeGoneError extends KubeApiError {
  constructor(message: string, init: KubeApiErrorInit) {
    super(message, init);
    this.name = "KubeGoneError";
  }
}

export class KubeForbiddenError extends KubeApiError {
  constructor(message: string, init: KubeApiErrorInit) {
    super(message, init);
    this.name = "KubeForbiddenError";
  }
}

export class KubeWatchIdleError extends KubeApiError {
  constructor(message: string, init: KubeApiErrorInit) {
    super(message, init);
    this.name = "KubeWatchIdleError";
  }
}

export function isNotFound(err: unknown): err is KubeNotFoundError {
  return err instanceof KubeNotFoundError;
}
export function isConflict(err: unknown): err is KubeConflictError {
  return err instanceof KubeConflictError;
}
export function isAlreadyExists(err: unknown): err is KubeConflictError {
  return err instanceof KubeConflictError && err.reason === "AlreadyExists";
}
export function isGone(err: unknown): err is KubeGoneError {
  return err instanceof KubeGoneError;
}
export function isForbidden(err: unknown): err is KubeForbiddenError {
  return err instanceof KubeForbiddenError;
}
export function isWatchIdle(err: unknown): err is KubeWatchIdleError {
  return err instanceof KubeWatchIdleError;
}

/** A metav1.Status if `body` looks like one (kind Status, or at least a code/message). */
export function parseStatus(body: unknown): KubeStatus | undefined {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return undefined;
  const b = body as Record<string, unknown>;
  if (b["kind"] !== "Status" && typeof b["message"] !== "string") return undefined;
  const status: KubeStatus = {};
  if (typeof b["code"] === "number") status.code = b["code"];
  if (typeof b["reason"] === "string" && b["reason"] !== "") status.reason = b["reason"];
  if (typeof b["message"] === "string" && b["message"] !== "") status.message = b["message"];
  const d = b["details"];
  if (typeof d === "object" && d !== null && !Array.isArray(d)) {
    const dd = d as Record<string, unknown>;
    const details: NonNullable<KubeStatus["details"]> = {};
    if (typeof dd["name"] === "string" && dd["name"] !== "") details.name = dd["name"];
    if (typeof dd["kind"] === "string" && dd["kind"] !== "") details.kind = dd["kind"];
    if (typeof dd["group"] === "string" && dd["group"] !== "") details.group = dd["group"];
    status.details = details;
  }
  return status;
}

const REASONS: Readonly<Record<number, string>> = {
  400: "BadRequest",
  401: "Unauthorized",
  403: "Forbidden",
  404: "NotFound",
  405: "MethodNotAllowed",
  406: "NotAcceptable",
  409: "Conflict",
  410: "Gone",
  415: "UnsupportedMediaType",
  422: "Invalid",
  429: "TooManyRequests",
  500: "InternalError",
  502: "BadGateway",
  503: "ServiceUnavailable",
  504: "Timeout",
};

/** Keeps messages on one line (the runtime logs them as one) and bounded. */
function oneLine(s: string, max = 400): string {
  const flat = s.replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

function head(req: RequestDescription): string {
  return `${req.verb} ${describeTarget(req.target)}`;
}

function unauthorizedAdvice(credentials: Credentials): string {
  switch (credentials.kind) {
    case "tokenFile":
      return `the token in ${credentials.file} was rejected even after re-reading the file: it may have expired; whoever writes that file must refresh it (the kubelet does for a projected ServiceAccount token; a copy on the host must be rewritten with a current token)`;
    case "token":
      return credentials.kubeconfig === undefined
        ? "the bearer token was rejected: it may have expired"
        : `the token in ${credentials.kubeconfig} was rejected: it may have expired; write that kubeconfig again with a current token of the multus ServiceAccount (Multus re-reads it after a 401)`;
    case "clientCertificate":
      return `the client certificate${credentials.kubeconfig === undefined ? "" : ` in ${credentials.kubeconfig}`} was rejected: it may have expired or not be signed by the cluster's client CA`;
    case "none":
      return `the request carried no credentials: add a token or client certificate${credentials.kubeconfig === undefined ? "" : ` to ${credentials.kubeconfig}`}`;
  }
}

function notFoundCode(target: ApiTarget): MultusErrorCode {
  if (target.resource === "pods" && target.group === "") return "MULTUS_ERR_POD_NOT_FOUND";
  if (target.resource === "network-attachment-definitions") return "MULTUS_ERR_NAD_NOT_FOUND";
  return "MULTUS_ERR_API";
}

/**
 * The typed error for an HTTP error answer. `body` is the decoded Status when the API sent one,
 * else the raw text (a proxy's HTML page, say).
 */
export function errorFromStatus(
  req: RequestDescription,
  httpStatus: number,
  body: KubeStatus | string,
  credentials: Credentials,
  retryAfterMs?: number,
): KubeApiError {
  const status = typeof body === "string" ? { message: body } : body;
  const reason = status.reason ?? REASONS[httpStatus] ?? `HTTP${httpStatus}`;
  const apiMessage = status.message === undefined || status.message === "" ? undefined : oneLine(status.message);
  const init: KubeApiErrorInit = { code: "MULTUS_ERR_API", request: req, httpStatus, reason, ...(apiMessage === undefined ? {} : { apiMessage }), ...(retryAfterMs === undefined ? {} : { retryAfterMs }) };
  const prefix = `${head(req)}: ${httpStatus} ${reason}`;
  const what = describeTarget(req.target);

  switch (httpStatus) {
    case 401:
      return new KubeForbiddenError(`${prefix}: ${unauthorizedAdvice(credentials)}`, { ...init, code: "MULTUS_ERR_API_FORBIDDEN" });
    case 403: {
      // RBAC denials name the user; other 403s (admission, a terminating namespace) do not and are
      // not fixed by RBAC, so they keep the API's own message.
      const user = /User "([^"]*)" cannot/.exec(status.message ?? "")?.[1];
      const scope = req.target.namespace === undefined ? "" : ` in namespace ${req.target.namespace}`;
      const msg = user === undefined
        ? `${prefix}: ${apiMessage ?? "forbidden"}`
        : `${prefix}: RBAC denies ${req.verb} ${describeResource(req.target)}${scope} to ${user}: apply deploy/rbac (ClusterRole multus) or grant the same rules`;
      return new KubeForbiddenError(msg, { ...init, code: "MULTUS_ERR_API_FORBIDDEN" });
    }
    case 404: {
      const code = notFoundCode(req.target);
      // The API does not know the resource type at all (a CRD not installed), as opposed to the
      // object: it answers with a plain-text "404 page not found" (or a Status without details.name).
      const typeUnknown =
        req.target.name !== undefined &&
        (typeof body === "string" || (status.details?.name === undefined && /could not find the requested resource/.test(status.message ?? "")));
      const group = req.target.group === "" ? "" : `${req.target.group}/`;
      // resource.k8s.io is built in: its v1 (DRA) is served from Kubernetes 1.34 on, no CRD makes it.
      const advice = req.target.group === "resource.k8s.io" ? "DRA's resource.k8s.io/v1 needs Kubernetes 1.34 or later" : "is its CRD installed? (apply deploy/crd)";
      const msg = typeUnknown
        ? `${prefix}: the API server does not serve ${req.target.resource} in ${group}${req.target.version}: ${advice}`
        : `${prefix}: ${what} does not exist${code === "MULTUS_ERR_NAD_NOT_FOUND" ? ": create it or fix the reference to it" : ""}`;
      return new KubeNotFoundError(msg, { ...init, code }, typeUnknown);
    }
    case 409:
      return new KubeConflictError(
        reason === "AlreadyExists"
          ? `${prefix}: ${what} already exists`
          : `${prefix}: ${apiMessage ?? "conflict"}: read the object again and retry`,
        init,
      );
    case 410:
      return new KubeGoneError(`${prefix}: ${apiMessage ?? "resource version too old"}: list again and watch from the new resourceVersion`, init);
    default: {
      const advice = httpStatus === 429 || httpStatus >= 500 ? ": the API server is overloaded or unhealthy; try again" : "";
      return new KubeApiError(`${prefix}${apiMessage === undefined ? "" : `: ${apiMessage}`}${advice}`, init);
    }
  }
}

/** Node's TLS verification errors carry these codes (and ERR_TLS_CERT_ALTNAME_INVALID). */
const TLS_CODES = /^(CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|ERR_TLS_|ERR_SSL_|ERR_OSSL_)/;

export function errorCodeOf(err: unknown): string | undefined {
  if (typeof err === "object" && err !== null && "code" in err && typeof err.code === "string") return err.code;
  return undefined;
}

/** No HTTP answer: connection refused/reset, DNS, TLS. */
export function connectionError(req: RequestDescription, server: URL, cause: unknown, attempts: number): KubeApiError {
  const detail = oneLine(cause instanceof Error ? cause.message : String(cause));
  const code = errorCodeOf(cause) ?? "";
  const tries = attempts > 1 ? ` (${attempts} attempts)` : "";
  const msg = TLS_CODES.test(code)
    ? `${head(req)}: TLS with ${server.origin} failed: ${detail}: check the certificate-authority / client certificate in the kubeconfig`
    : `${head(req)}: cannot reach the API server at ${server.origin}${tries}: ${detail}`;
  return new KubeApiError(msg, { code: "MULTUS_ERR_API", request: req, reason: "ConnectionError", cause });
}

export function timeoutError(req: RequestDescription, server: URL, timeoutMs: number): KubeApiError {
  return new KubeApiError(`${head(req)}: no answer from the API server at ${server.origin} within ${timeoutMs} ms`, {
    code: "MULTUS_ERR_API",
    request: req,
    reason: "Timeout",
  });
}

/** A 2xx answer we cannot use (not JSON, or not the object the caller expects). */
export function invalidResponseError(req: RequestDescription, detail: string, cause?: unknown): KubeApiError {
  return new KubeApiError(`${head(req)}: the API server's answer is not usable: ${oneLine(detail)}`, {
    code: "MULTUS_ERR_API",
    request: req,
    reason: "InvalidResponse",
    ...(cause === undefined ? {} : { cause }),
  });
}

function sizeText(bytes: number): string {
  if (bytes % (1024 * 1024) === 0) return `${String(bytes / 1024 / 1024)} MiB (${String(bytes)} bytes)`;
  if (bytes % 1024 === 0) return `${String(bytes / 1024)} KiB (${String(bytes)} bytes)`;
  return `${String(bytes)} bytes`;
}

/** A body (or one watch event) over the client's limit: never buffered whole, never retried. */
export function tooLargeError(req: RequestDescription, maxBytes: number): KubeApiError {
  return new KubeApiError(`${head(req)}: the API server's answer is larger than ${sizeText(maxBytes)}, Multus's limit; check what sits between Multus and the API server`, {
    code: "MULTUS_ERR_TOO_LARGE",
    request: req,
    reason: "TooLarge",
  });
}

export function watchIdleError(req: RequestDescription, idleMs: number): KubeWatchIdleError {
  return new KubeWatchIdleError(`${head(req)}: no event or bookmark for ${idleMs} ms; the watch was closed: watch again from the last resourceVersion`, {
    code: "MULTUS_ERR_API",
    request: req,
    reason: "WatchIdle",
  });
}
