// The daemon's unix-socket HTTP server, speaking upstream Multus's wire protocol
// (multus-behavior.md §6), so upstream's shim and multus-dynamic-networks-controller work against it:
//   POST /cni       {"env":{…the shim's environment…},"config":"<base64 stdin>"}
//                   → 200 {"Result":<CNI result>} for ADD (in the version the config asks for: the
//                     same skeleton as the thin plugin runs it), 200 with an empty body otherwise;
//                     → 400 with the CNI error JSON on failure (error 11 when the daemon is at capacity).
//   POST /delegate  the same body plus "interfaceAttributes" {ips, mac, cni-args}: hot-plug of one
//                   network into a running pod (see hotplug.ts).
//   GET  /healthz   200 while the process serves.
//   GET  /readyz    200 once the caches are synced and the config is written; 500 from SIGTERM on.
//   GET  /metrics   Prometheus text (also on metricsPort when configured).
// The request's config is the file the runtime read (00-multus.conf); the daemon config's thin keys
// are laid over it, as upstream does. Every CNI request goes through the scheduler (bounded
// concurrency, per-sandbox order, DEL first) and then through runPlugin — the very code path of the
// thin executable, with the request's env and stdin in place of the process's.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { CniCode, CniError, toCniError } from "../cni/cni-error.ts";
import { isRecord } from "../cni/is-record.ts";
import { runPlugin, type PluginHandlers, type PluginIo } from "../cni/skel.ts";
import { ALL_VERSIONS } from "../cni/version.ts";
import type { Logger } from "../util/logger.ts";
import { withOverrides } from "./daemon-config.ts";
import type { DaemonMetrics } from "./metrics.ts";
import type { RequestScheduler } from "./request-scheduler.ts";

/** A request body: the shim's whole environment plus the config (4 MiB at most, base64). */
const MAX_BODY_BYTES = 8 * 1024 * 1024;

export interface DelegateRequest {
  env: Record<string, string>;
  config: Buffer;
  interfaceAttributes: { ips?: string[]; mac?: string; cniArgs?: Record<string, unknown> } | undefined;
}

export interface CniServerOptions {
  handlers: PluginHandlers;
  /** /delegate: answers like /cni (a CNI result or nothing; throws a CniError). */
  delegate: (req: DelegateRequest) => Promise<unknown>;
  scheduler: RequestScheduler;
  metrics: DaemonMetrics;
  overrides: Record<string, unknown>;
  log: Logger;
  ready: () => boolean;
}

interface ShimRequest {
  env: Record<string, string>;
  config: Buffer;
  /** The config's cniVersion (for error replies), when it has one. */
  cniVersion: string | undefined;
  /** The config decoded, when it is a JSON object (else the skeleton reports what is wrong with it). */
  parsedConfig: Record<string, unknown> | undefined;
  interfaceAttributes: unknown;
  /** The request body's size: what the request holds while it waits. */
  bytes: number;
}

/** Metric labels take only these (a client's CNI_COMMAND is not trusted to be one). */
const COMMANDS = new Set(["ADD", "DEL", "CHECK", "GC", "STATUS", "VERSION"]);

export function createCniServer(o: CniServerOptions): Server {
  const server = createServer((req, res) => {
    void route(o, req, res).catch((err: unknown) => {
      o.log.error({ path: req.url, error: toCniError(err).message }, "request handling failed");
      if (!res.headersSent) reply(res, 500, "text/plain", "internal error\n");
    });
  });
  // A stuck client cannot hold a connection forever: the request must arrive within 30 s (the CNI
  // work that follows is bounded by its own budget; every answer closes the connection).
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  return server;
}

async function route(o: CniServerOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? "/").split("?")[0] ?? "/";
  const count = (handler: string, code: number): void => {
    o.metrics.serverRequests.inc({ handler, code: String(code), method: (req.method ?? "").toLowerCase() });
  };
  switch (path) {
    case "/healthz":
      count(path, 200);
      reply(res, 200, "application/json", "");
      return;
    case "/readyz": {
      const code = o.ready() ? 200 : 500;
      count(path, code);
      reply(res, code, "text/plain", code === 200 ? "ok\n" : "not ready\n");
      return;
    }
    case "/metrics": {
      const text = await o.metrics.registry.metrics();
      count(path, 200);
      reply(res, 200, o.metrics.registry.contentType, text);
      return;
    }
    case "/cni":
    case "/delegate": {
      if (req.method !== "POST") {
        count(path, 405);
        reply(res, 405, "text/plain", "Method not allowed\n");
        return;
      }
      const { code, body } = await handleCni(o, path, req);
      count(path, code);
      reply(res, code, "application/json", body);
      return;
    }
    default:
      count("NotFound", 404);
      reply(res, 404, "text/plain", "not found\n");
  }
}

async function handleCni(o: CniServerOptions, path: string, req: IncomingMessage): Promise<{ code: number; body: string }> {
  const started = performance.now();
  let command = "UNKNOWN";
  let shim: ShimRequest;
  try {
    shim = decodeRequest(await readBody(req));
    if (path === "/cni" && shim.parsedConfig !== undefined && Object.keys(o.overrides).length > 0) {
      shim = { ...shim, config: Buffer.from(JSON.stringify(withOverrides(shim.parsedConfig, o.overrides))) };
    }
    const c = shim.env["CNI_COMMAND"] ?? "";
    command = COMMANDS.has(c) ? c : "UNKNOWN";
  } catch (err) {
    o.metrics.requests.inc({ command, result: "error" });
    return { code: 400, body: JSON.stringify(toCniError(err).toErrorJson()) };
  }
  const key = command === "GC" || command === "STATUS" ? "" : (shim.env["CNI_CONTAINERID"] ?? "");
  const cniVersion = shim.cniVersion;
  try {
    const out = await o.scheduler.run({ command, key, bytes: shim.bytes }, () =>
      path === "/cni" ? runCni(o, shim) : runDelegate(o, shim),
    );
    o.metrics.requests.inc({ command, result: out.code === 200 ? "success" : "error" });
    return out;
  } catch (err) {
    const e = toCniError(err);
    o.metrics.requests.inc({ command, result: e.code === CniCode.TryAgainLater ? "refused" : "error" });
    o.log.error({ command, containerId: key, error: e.message }, "CNI request refused");
    return { code: 400, body: JSON.stringify(e.toErrorJson(cniVersion)) };
  } finally {
    o.metrics.requestDuration.observe({ command }, (performance.now() - started) / 1000);
  }
}

/** One CNI call through the plugin skeleton, exactly as the thin executable runs it. */
async function runCni(o: CniServerOptions, shim: ShimRequest): Promise<{ code: number; body: string }> {
  let stdout = "";
  const io: PluginIo = {
    env: shim.env,
    stdin: () => Promise.resolve(shim.config),
    stdout: (s) => {
      stdout += s;
    },
    stderr: (s) => {
      o.log.info({ output: s.trimEnd() }, "plugin skeleton output");
    },
  };
  const exit = await runPlugin(io, o.handlers, { supportedVersions: ALL_VERSIONS, about: "" });
  if (exit !== 0) return { code: 400, body: compact(stdout) };
  if (stdout.trim() === "") return { code: 200, body: "" };
  return { code: 200, body: `{"Result":${compact(stdout)}}` };
}

async function runDelegate(o: CniServerOptions, shim: ShimRequest): Promise<{ code: number; body: string }> {
  try {
    const result = await o.delegate({ env: shim.env, config: shim.config, interfaceAttributes: decodeAttributes(shim.interfaceAttributes) });
    return result === undefined ? { code: 200, body: "" } : { code: 200, body: JSON.stringify({ Result: result }) };
  } catch (err) {
    return { code: 400, body: JSON.stringify(toCniError(err).toErrorJson()) };
  }
}

function decodeRequest(body: Buffer): ShimRequest {
  let raw: unknown;
  try {
    raw = JSON.parse(body.toString("utf8"));
  } catch (err) {
    throw new CniError(CniCode.DecodingFailure, `the request to multus-daemon is not JSON: ${(err as Error).message}`);
  }
  if (!isRecord(raw) || !isRecord(raw["env"])) throw new CniError(CniCode.InvalidEnvironment, 'the request to multus-daemon has no "env" object');
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw["env"])) if (typeof v === "string") env[k] = v;
  if (typeof raw["config"] !== "string") throw new CniError(CniCode.DecodingFailure, 'the request to multus-daemon has no base64 "config"');
  const config = Buffer.from(raw["config"], "base64");
  const parsedConfig = jsonObject(config);
  const cniVersion = typeof parsedConfig?.["cniVersion"] === "string" ? parsedConfig["cniVersion"] : undefined;
  // Only what is used is kept (not the base64 text): queued requests hold this.
  return { env, config, cniVersion, parsedConfig, interfaceAttributes: raw["interfaceAttributes"], bytes: body.length };
}

function jsonObject(bytes: Buffer): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(bytes.toString("utf8"));
    return isRecord(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

function decodeAttributes(attrs: unknown): DelegateRequest["interfaceAttributes"] {
  if (!isRecord(attrs)) return undefined;
  const out: NonNullable<DelegateRequest["interfaceAttributes"]> = {};
  if (Array.isArray(attrs["ips"])) out.ips = attrs["ips"].filter((x): x is string => typeof x === "string");
  if (typeof attrs["mac"] === "string" && attrs["mac"] !== "") out.mac = attrs["mac"];
  if (isRecord(attrs["cni-args"])) out.cniArgs = attrs["cni-args"];
  return out;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) {
      req.destroy();
      throw new CniError(CniCode.IoFailure, `the request to multus-daemon is larger than ${String(MAX_BODY_BYTES / 1024 / 1024)} MiB`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

function compact(json: string): string {
  try {
    return JSON.stringify(JSON.parse(json));
  } catch {
    return JSON.stringify(new CniError(CniCode.Internal, "the plugin skeleton wrote something that is not JSON", json.slice(0, 4096)).toErrorJson());
  }
}

function reply(res: ServerResponse, code: number, type: string, body: string): void {
  res.writeHead(code, { "Content-Type": type, "Content-Length": Buffer.byteLength(body), Connection: "close" });
  res.end(body);
}
