// The plugin skeleton every executable of ours runs (multus, passthru, the shim): one CNI command from
// env + stdin to exit code + stdout, with the behaviour of containernetworking/cni pkg/skel
// (conformance CNI-P-01…08, 10, 12, 14).
//
// Exported API:
//   runPlugin(io, handlers, spec): Promise<number>   run one command; returns the exit code, never throws
//   processPluginIo(options?): PluginIo               the real process's env/stdin/stdout/stderr
//   types PluginIo, CmdArgs, PluginConf, PluginHandlers, GcArgs, PluginSpec
//
// Order of checks (skel's): no CNI_COMMAND → `about` on stderr, exit 0 · required env + containerID/
// ifname (4) · VERSION answers here without reading stdin · stdin read (5) · stdin JSON (6) · `name` (7)
// · unknown command (4) · cniVersion type (6) · CHECK ≥0.4.0, GC/STATUS ≥1.1.0 (1) · version supported
// (1) · CNI_NETNS is not our own netns (8, ADD/DEL) · handler.
// Output: ADD prints the handler's result converted to the config's cniVersion; the other commands print
// nothing on success; every failure prints `{cniVersion?,code,msg,details?}` on stdout and returns 1.
//
// Decisions (where skel is silent or odd):
//   - VERSION never reads stdin (skel swaps in an empty reader) and always answers
//     `{"cniVersion":"1.1.0","supportedVersions":[…]}` (skel prints version.Current()), so a runtime
//     that never closes stdin, or sends garbage, still gets an answer.
//   - The error JSON carries `cniVersion` once the config's version is known and supported by the
//     plugin (the spec's error example has one; skel omits it, libcni ignores it).
//   - skel checks "CNI_NETNS is the plugin's own netns" (code 8) after ADD/DEL ran; we check before, so
//     the handler never acts on the wrong namespace. CNI_NETNS_OVERRIDE=1/true skips it, as in skel.
//   - A missing GC/STATUS handler means success (skel's nil CNIFuncs entry).
import { addAbortSignal, type Readable } from "node:stream";
import { CniCode, CniError, toCniError } from "./cni-error.ts";
import { isOwnNetns, readCniEnv, splitCniPath, validateNetworkName } from "./plugin-env.ts";
import { convertResult } from "./result-convert.ts";
import type { CniCommand, CniErrorJson, CniResult, ValidAttachment, VersionInfo } from "./types.ts";
import { CNI_COMMANDS } from "./types.ts";
import { IMPLICIT_VERSION, LATEST_VERSION } from "./version.ts";

/** The process boundary, injectable for tests. */
export interface PluginIo {
  env: NodeJS.ProcessEnv | Readonly<Record<string, string | undefined>>;
  /** All of stdin; rejects on a read error or its own deadline. */
  stdin: () => Promise<Buffer>;
  stdout: (s: string) => void;
  stderr: (s: string) => void;
}

/**
 * The stdin config as skel vouches for it: a JSON object with a valid `name` and a string `cniVersion`
 * (defaulted to 0.1.0 when absent or empty). Every other key is the handler's to validate with its own
 * schema — skel does not look at `type`, `ipam`, `prevResult`, … .
 */
export interface PluginConf {
  cniVersion: string;
  name: string;
  [key: string]: unknown;
}

export interface CmdArgs {
  command: CniCommand;
  containerId: string;
  netns: string;
  ifName: string;
  /** Raw CNI_ARGS; parse with parseCniArgs (plugin-env.ts). */
  args: string;
  /** CNI_PATH split on `:`. */
  path: string[];
  stdinData: Buffer;
  config: PluginConf;
  /** The caller's whole environment (the process's, or the shim's when the daemon runs the call): delegates inherit it (CNI-P-13). */
  env: Readonly<Record<string, string | undefined>>;
}

/** GC's arguments: `cni.dev/valid-attachments` decoded (`null` or absent ⇒ []). */
export type GcArgs = CmdArgs & { validAttachments: ValidAttachment[] };

export interface PluginHandlers {
  /** Returns the result in any version; runPlugin converts it to the config's cniVersion. */
  add(a: CmdArgs): Promise<CniResult>;
  del(a: CmdArgs): Promise<void>;
  check(a: CmdArgs): Promise<void>;
  gc?(a: GcArgs): Promise<void>;
  status?(a: CmdArgs): Promise<void>;
}

export interface PluginSpec {
  /** The versions reported by VERSION and accepted in configs, oldest first. */
  supportedVersions: readonly string[];
  /** Printed on stderr when CNI_COMMAND is unset, e.g. "CNI plugin multus v4.2.0". */
  about: string;
}

/** Runs one CNI command; returns the exit code; never throws; never calls process.exit. */
export async function runPlugin(io: PluginIo, handlers: PluginHandlers, spec: PluginSpec): Promise<number> {
  // Known once the config's version is decoded and supported; echoed in the error JSON.
  let replyVersion: string | undefined;
  try {
    if ((io.env.CNI_COMMAND ?? "") === "" && spec.about !== "") {
      // CNI-P-06: a human ran the binary.
      io.stderr(`${spec.about}\nCNI protocol versions supported: ${spec.supportedVersions.join(", ")}\n`);
      return 0;
    }
    const env = readCniEnv(io.env);
    if (env.command === "VERSION") {
      const info: VersionInfo = { cniVersion: LATEST_VERSION, supportedVersions: [...spec.supportedVersions] };
      io.stdout(`${JSON.stringify(info)}\n`);
      return 0;
    }

    let stdinData: Buffer;
    try {
      stdinData = await io.stdin();
    } catch (err) {
      throw new CniError(CniCode.IoFailure, `error reading from stdin: ${toCniError(err).message}`, "", { cause: err });
    }
    const raw = parseStdinConfig(stdinData);
    if (!isCniCommand(env.command)) {
      throw new CniError(CniCode.InvalidEnvironment, `unknown CNI_COMMAND: ${env.command}`);
    }
    const command = env.command;
    const confVersion = decodeConfVersion(raw);

    // CNI-P-05: CHECK exists from 0.4.0 on, GC and STATUS from 1.1.0 on.
    if (command === "CHECK") requireVerbVersion(command, confVersion, "0.4.0", spec);
    else if (command === "GC" || command === "STATUS") requireVerbVersion(command, confVersion, "1.1.0", spec);
    if (!spec.supportedVersions.includes(confVersion)) {
      throw new CniError(
        CniCode.IncompatibleVersion,
        "incompatible CNI versions",
        `config is ${goQuote(confVersion)}, plugin supports [${spec.supportedVersions.map(goQuote).join(" ")}]`,
      );
    }
    replyVersion = confVersion;

    const args: CmdArgs = {
      command,
      containerId: env.containerId,
      netns: env.netns,
      ifName: env.ifName,
      args: env.args,
      path: splitCniPath(env.path),
      stdinData,
      config: { ...raw, cniVersion: confVersion, name: raw.name },
      env: io.env,
    };

    switch (command) {
      case "ADD": {
        await refuseOwnNetns(env.netns, env.netnsOverride);
        const result = await handlers.add(args);
        // CNI-P-08: the result is printed in the version the runtime asked for.
        io.stdout(JSON.stringify(convertResult(result, confVersion), null, 4));
        return 0;
      }
      case "DEL":
        await refuseOwnNetns(env.netns, env.netnsOverride);
        await handlers.del(args);
        return 0;
      case "CHECK":
        await handlers.check(args);
        return 0;
      case "GC": {
        const validAttachments = decodeValidAttachments(raw["cni.dev/valid-attachments"]);
        await handlers.gc?.({ ...args, validAttachments });
        return 0;
      }
      case "STATUS":
        await handlers.status?.(args);
        return 0;
      case "VERSION":
        // Answered above, before stdin.
        return 0;
    }
  } catch (err) {
    // CNI-P-01/14: a CniError keeps its code; anything else is an internal error (999).
    const json: CniErrorJson = toCniError(err).toErrorJson(replyVersion);
    try {
      io.stdout(JSON.stringify(json, null, 4));
    } catch (writeErr) {
      safeStderr(io, `error writing the error JSON to stdout: ${toCniError(writeErr).message}\n`);
    }
    return 1;
  }
}

export interface ProcessPluginIoOptions {
  /** Deadline for reading all of stdin (the runtime writes the config and closes it at once). */
  stdinTimeoutMs?: number;
  /** More stdin than this is an I/O error (code 5) naming the limit; default 4 MiB. */
  maxStdinBytes?: number;
}

/** The real process as a PluginIo; only src/cmd entry points use it. */
export function processPluginIo(options: ProcessPluginIoOptions = {}): PluginIo {
  const timeoutMs = options.stdinTimeoutMs ?? 30_000;
  const maxBytes = options.maxStdinBytes ?? DEFAULT_MAX_STDIN;
  return {
    env: process.env,
    stdin: () => readAll(process.stdin, timeoutMs, maxBytes),
    stdout: (s) => {
      process.stdout.write(s);
    },
    stderr: (s) => {
      process.stderr.write(s);
    },
  };
}

/** A network config is a few KiB; even every pod annotation in runtimeConfig stays far below this. */
const DEFAULT_MAX_STDIN = 4 * 1024 * 1024;

async function readAll(stream: Readable, timeoutMs: number, maxBytes: number): Promise<Buffer> {
  const signal = AbortSignal.timeout(timeoutMs);
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of addAbortSignal(signal, stream)) {
      const buf = typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer);
      size += buf.length;
      if (size > maxBytes) {
        stream.destroy();
        throw new Error(`the network config on stdin is larger than ${String(maxBytes / 1024 / 1024)} MiB (${String(maxBytes)} bytes); Multus does not read more`);
      }
      chunks.push(buf);
    }
  } catch (err) {
    if (signal.aborted) throw new Error(`no end of stdin after ${timeoutMs} ms`, { cause: err });
    throw err;
  }
  return Buffer.concat(chunks);
}

function isCniCommand(command: string): command is CniCommand {
  return (CNI_COMMANDS as readonly string[]).includes(command);
}

/** CNI-P-04 (skel validateConfig): not a JSON object → 6; `name` missing/empty/bad → 7; `name` not a string → 6. */
function parseStdinConfig(stdin: Buffer): Record<string, unknown> & { name: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(stdin.toString("utf8"));
  } catch (err) {
    throw new CniError(CniCode.DecodingFailure, `error unmarshall network config: ${toCniError(err).message}`);
  }
  // Go unmarshals `null` into an empty struct: it then fails on the missing name.
  const obj: unknown = parsed ?? {};
  if (typeof obj !== "object" || Array.isArray(obj)) {
    throw new CniError(CniCode.DecodingFailure, "error unmarshall network config: expected a JSON object");
  }
  const conf = obj as Record<string, unknown>;
  const name = conf.name ?? "";
  if (typeof name !== "string") {
    throw new CniError(CniCode.DecodingFailure, 'error unmarshall network config: "name" must be a string');
  }
  validateNetworkName(name);
  return { ...conf, name };
}

/** libcni create.DecodeVersion: absent/null/"" ⇒ 0.1.0; a non-string → 6. */
function decodeConfVersion(conf: Record<string, unknown>): string {
  const v = conf.cniVersion ?? "";
  if (typeof v !== "string") {
    throw new CniError(CniCode.DecodingFailure, 'decoding version from network config: "cniVersion" must be a string');
  }
  return v === "" ? IMPLICIT_VERSION : v;
}

/**
 * skel's CHECK/GC/STATUS gate: the config must be at least `min`, and the plugin must support some
 * version at least the config's. Versions are compared as Go's version.ParseVersion reads them.
 */
function requireVerbVersion(verb: CniCommand, confVersion: string, min: string, spec: PluginSpec): void {
  const conf = goVersion(confVersion);
  if (compare(conf, goVersion(min)) < 0) {
    throw new CniError(CniCode.IncompatibleVersion, `config version does not allow ${verb}`);
  }
  if (!spec.supportedVersions.some((v) => compare(goVersion(v), conf) >= 0)) {
    throw new CniError(CniCode.IncompatibleVersion, `plugin version does not allow ${verb}`);
  }
}

/** Go's version.ParseVersion: up to three dot-separated integers, missing parts 0; else code 6. */
function goVersion(v: string): [number, number, number] {
  if (v === "") return [0, 1, 0];
  const parts = v.split(".");
  if (parts.length > 3 || !parts.every((p) => /^[+-]?\d+$/.test(p))) {
    throw new CniError(CniCode.DecodingFailure, `invalid version ${goQuote(v)}`);
  }
  return [Number(parts[0]), Number(parts[1] ?? 0), Number(parts[2] ?? 0)];
}

function compare(a: readonly [number, number, number], b: readonly [number, number, number]): number {
  return a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
}

/** Go's %q for the plain strings we quote (version strings). */
function goQuote(s: string): string {
  return JSON.stringify(s);
}

async function refuseOwnNetns(netns: string, override: boolean): Promise<void> {
  if (override) return;
  if (await isOwnNetns(netns)) {
    throw new CniError(CniCode.NetnsFailure, "plugin's netns and netns from CNI_NETNS should not be the same");
  }
}

/** CNI-P-12: `cni.dev/valid-attachments` is `[{containerID, ifname}]`; `null` or absent is the empty set. */
function decodeValidAttachments(v: unknown): ValidAttachment[] {
  if (v === undefined || v === null) return [];
  const bad = (what: string) =>
    new CniError(CniCode.DecodingFailure, `invalid cni.dev/valid-attachments: ${what}`);
  if (!Array.isArray(v)) throw bad("must be an array");
  return v.map((item: unknown, i): ValidAttachment => {
    if (typeof item !== "object" || item === null || Array.isArray(item)) throw bad(`[${i}] must be an object`);
    const { containerID, ifname } = item as Record<string, unknown>;
    if (typeof containerID !== "string") throw bad(`[${i}].containerID must be a string`);
    if (typeof ifname !== "string") throw bad(`[${i}].ifname must be a string`);
    return { containerID, ifname };
  });
}

function safeStderr(io: PluginIo, s: string): void {
  try {
    io.stderr(s);
  } catch {
    // Nothing is left to report to.
  }
}
