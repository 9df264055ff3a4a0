// Finding and executing one CNI plugin binary, with libcni's observable behaviour
// (containernetworking/cni pkg/invoke: find.go, args.go, raw_exec.go, exec.go).
//
// Exported API:
//   interface CniLogger { debug(fields, msg); info(fields, msg); warn(fields, msg) }   pino-compatible
//   NOOP_LOGGER: CniLogger
//   findPlugin(type: string, dirs: readonly string[]): Promise<string>
//     CNI-R-01: `type` must be non-empty and hold no "/"; returns the first regular, executable file
//     `<dir>/<type>` in `dirs` order, else CniError `failed to find plugin "x" in path [/a /b]`.
//   pluginExists(type, dirs): boolean      the same lookup, as a yes/no (metrics labels)
//   formatCniArgs(pairs: readonly (readonly [string, string])[]): string      "K=V;K=V"
//   buildPluginEnv(base, vars: CniEnvVars): Record<string, string>
//     CNI-R-02: the base environment plus all six CNI_* variables, always set (empty when unknown),
//     ours overriding the base's.
//   execPlugin(req: ExecPluginRequest): Promise<Buffer>          resolves to stdout on exit status 0
//     Errors are CniErrors: the plugin's own stdout error object (code, msg, details kept); else
//     libcni's fallbacks `netplugin failed with no error message: <exec error>`,
//     `netplugin failed: "<stderr>": <exec error>`,
//     `netplugin failed but error parsing its diagnostic message "<stdout>": <parse error>` (code 999).
//     A deadline (`timeoutMs`, CNI-R-17) or an aborted `signal` SIGKILLs the plugin's whole process
//     group and fails with an error naming the plugin, the command, the time and (`deadlineReason`)
//     whose deadline it was. `inheritFds` become the plugin's fd 3, 4, …; `onSpawn`/`onExit` see its PID. "text file busy"
//     (ETXTBSY: the binary is being written) is retried 5 times, 1 s apart (CNI-R-08).
//   `spawner` (default nodeSpawner: Node's child_process) starts the process; multus-native.node's
//   posix_spawn (src/util/native-spawn.ts) starts it without copying the caller's address space.
//   interface SpawnedProcess { pid, stdin, stdout, stderr, exit }; type Spawner; nodeSpawner
//   Error codes: libcni returns plain Go errors here, which a Go plugin (Multus) reports as 999. We keep
//   999 for "not found", exec failures, timeouts and the fallback texts, and use 7 for an unusable
//   `type` (a configuration error). A plugin's own error object keeps whatever code it carries.
//   setPluginRoot(root: string | undefined, chroot?: string)
//     Process-wide (the thick daemon's `chrootDir`): plugins are found under `<root>/<dir>` and run as
//     `chroot <root> <dir>/<type>`, so a daemon in a container runs the host's plugins with the host's
//     tools (iptables, …) and paths, as upstream's daemon does. The lookup follows symlinks inside
//     the root, as chroot will; chroot's own "Text file busy" (exit 126) is retried like ETXTBSY.
//   hostCommand(file, args): [file, args]   a host tool (nsenter, ip) chrooted the same way
//   probeVersion(pluginPath: string, opts: ProbeVersionOptions): Promise<VersionInfo>
//     CNI-R-14: VERSION with stdin {"cniVersion":"1.1.0"} and CNI_NETNS/IFNAME/PATH = "dummy";
//     `unknown CNI_COMMAND: VERSION` ⇒ ["0.1.0"]; a "0.2.0" reply without a list ⇒ ["0.1.0","0.2.0"].

import { spawn, type ChildProcessByStdio } from "node:child_process";
// Metadata calls are synchronous: each is microseconds on local files, less than a thread-pool
// round trip (these run on every delegate call; docs/performance.md).
import { accessSync, constants, lstatSync, readlinkSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Readable, Writable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { CniCode, CniError } from "./cni-error.ts";
import { settled } from "./settled.ts";
import type { CniCommand, VersionInfo } from "./types.ts";
import { LATEST_VERSION } from "./version.ts";
import { isRecord } from "./is-record.ts";

/** The subset of a pino logger this library uses; pass a pino logger directly. */
export interface CniLogger {
  debug(fields: Record<string, unknown>, msg: string): void;
  info(fields: Record<string, unknown>, msg: string): void;
  warn(fields: Record<string, unknown>, msg: string): void;
}

export const NOOP_LOGGER: CniLogger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
};

/** Go's %q, close enough for error texts: escapes quotes, backslashes and control characters. */
function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0) ?? 0;
    if (ch === '"' || ch === "\\") out += `\\${ch}`;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, "0")}`;
    else out += ch;
  }
  return out + '"';
}

let pluginRoot: { root: string; chroot: string } | undefined;

/** Run every plugin inside `root` (see the header); undefined: no chroot. */
export function setPluginRoot(root: string | undefined, chroot = "chroot"): void {
  pluginRoot = root === undefined || root === "" || root === "/" ? undefined : { root, chroot };
}

/** A host tool's command line (`nsenter … ip …`), chrooted like the plugins when a root is set. */
export function hostCommand(file: string, args: readonly string[]): [string, string[]] {
  return pluginRoot === undefined ? [file, [...args]] : [pluginRoot.chroot, [pluginRoot.root, file, ...args]];
}

/**
 * `path` as the chroot would resolve it, seen from here: every symlink along it (the host's
 * /opt/cni/bin/bridge -> /usr/lib/cni/bridge) is followed inside `root`, not in our own namespace.
 */
function lstatOrUndefined(path: string): ReturnType<typeof lstatSync> | undefined {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}

function underRoot(root: string, path: string): string {
  const parts = path.split("/").filter((p) => p !== "");
  let resolved = "";
  for (let hops = 0; parts.length > 0; ) {
    const part = parts.shift() ?? "";
    if (part === ".") continue;
    if (part === "..") {
      resolved = resolved.slice(0, Math.max(0, resolved.lastIndexOf("/")));
      continue;
    }
    const candidate = `${resolved}/${part}`;
    const st = lstatOrUndefined(join(root, candidate));
    if (st?.isSymbolicLink() !== true) {
      resolved = candidate;
      continue;
    }
    if (++hops > 40) throw new Error(`too many levels of symbolic links under ${root}: ${path}`);
    const target = readlinkSync(join(root, candidate));
    parts.unshift(...target.split("/").filter((p) => p !== ""));
    if (target.startsWith("/")) resolved = "";
  }
  return join(root, resolved);
}

export function findPlugin(type: string, dirs: readonly string[]): Promise<string> {
  return settled(() => findPluginNow(type, dirs));
}

/** Whether `type` names an executable plugin in `dirs` (findPlugin's lookup, synchronous, no error). */
export function pluginExists(type: string, dirs: readonly string[]): boolean {
  try {
    findPluginNow(type, dirs);
    return true;
  } catch {
    return false;
  }
}

function findPluginNow(type: string, dirs: readonly string[]): string {
  // libcni invoke.FindInPath wording; a bad `type` is a configuration error.
  if (type === "") throw new CniError(CniCode.InvalidNetworkConfig, "no plugin name provided");
  if (type.includes("/")) throw new CniError(CniCode.InvalidNetworkConfig, `invalid plugin name: ${type}`);
  if (dirs.length === 0) throw new CniError(CniCode.Internal, "no paths provided");
  for (const dir of dirs) {
    const full = join(dir, type);
    try {
      const seen = pluginRoot === undefined ? full : underRoot(pluginRoot.root, full);
      const st = statSync(seen);
      if (!st.isFile()) continue;
      // Skip a non-executable file instead of failing later with "permission denied" (libcni would
      // pick it): a later directory may hold the real plugin.
      accessSync(seen, constants.X_OK);
      return full;
    } catch {
      continue;
    }
  }
  throw new CniError(CniCode.Internal, `failed to find plugin ${goQuote(type)} in path [${dirs.join(" ")}]`);
}

export function formatCniArgs(pairs: readonly (readonly [string, string])[]): string {
  return pairs.map(([k, v]) => `${k}=${v}`).join(";");
}

export interface CniEnvVars {
  command: CniCommand;
  containerId?: string;
  netns?: string;
  ifName?: string;
  /** CNI_ARGS, already formatted (`formatCniArgs`). */
  args?: string;
  /** CNI_PATH entries; joined with ":". */
  path?: readonly string[];
}

export function buildPluginEnv(base: Readonly<Record<string, string | undefined>>, vars: CniEnvVars): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(base)) if (v !== undefined) env[k] = v;
  // libcni Args.AsEnv: all six are appended after the process environment, so ours win.
  env.CNI_COMMAND = vars.command;
  env.CNI_CONTAINERID = vars.containerId ?? "";
  env.CNI_NETNS = vars.netns ?? "";
  env.CNI_ARGS = vars.args ?? "";
  env.CNI_IFNAME = vars.ifName ?? "";
  env.CNI_PATH = (vars.path ?? []).join(":");
  return env;
}

export interface ExecPluginRequest extends CniEnvVars {
  pluginPath: string;
  stdin: string | Uint8Array;
  /** Base environment (default: process.env). */
  env?: Readonly<Record<string, string | undefined>>;
  /** Deadline for the whole call, retries included. */
  timeoutMs: number;
  signal?: AbortSignal;
  /** argv prefix to start the plugin with, e.g. ["ip", "netns", "exec", "node-ns"] (tests). */
  launcher?: readonly string[];
  /** Called with each line the plugin writes to stderr (plugins log there). */
  onStderr?: (line: string) => void;
  /** "text file busy" retries (default 5) and their spacing (default 1000 ms), as libcni. */
  busyRetries?: number;
  busyRetryDelayMs?: number;
  /**
   * Descriptors the plugin inherits as fd 3, 4, … (Multus hands its sandbox locks to delegates so
   * that the locks outlive a killed Multus for as long as the delegate runs).
   */
  inheritFds?: readonly number[];
  /** Told the plugin's PID once it runs, and again when it has exited. */
  onSpawn?: (pid: number) => void;
  onExit?: (pid: number) => void;
  /** Why the deadline is what it is, for the timeout message (default: "timed out after N ms"). */
  deadlineReason?: string;
  /** How the process is started (default nodeSpawner). */
  spawner?: Spawner;
}

/** A started plugin process: its stdio pipes and its exit status. */
export interface SpawnedProcess {
  readonly pid: number;
  readonly stdin: Writable;
  readonly stdout: Readable;
  readonly stderr: Readable;
  /** Settles once the process has exited; never rejects. */
  readonly exit: Promise<{ code: number | null; sig: NodeJS.Signals | null }>;
}

/**
 * Starts `file` (searched in PATH when it holds no "/"; argv[0] is `file`) with `args` and exactly
 * `env`, in a session of its own (its PID leads its process group, so a kill reaches its children),
 * with every signal at its default disposition, fresh pipes as fd 0–2 and `inheritFds` as fd 3, 4, ….
 * Rejects with an ErrnoException (ENOENT, EACCES, ETXTBSY…) when the program cannot be executed.
 */
export type Spawner = (file: string, args: readonly string[], env: Readonly<Record<string, string>>, inheritFds: readonly number[]) => Promise<SpawnedProcess>;

/** Node's child_process (fork + exec). */
export const nodeSpawner: Spawner = (file, args, env, inheritFds) =>
  new Promise((resolve, reject) => {
    let child: ChildProcessByStdio<Writable, Readable, Readable>;
    try {
      // fd 0-2 are pipes whatever follows them, so the streams exist.
      child = spawn(file, args, { env, stdio: ["pipe", "pipe", "pipe", ...inheritFds], detached: true }) as ChildProcessByStdio<Writable, Readable, Readable>;
    } catch (err) {
      reject(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    const exit = new Promise<{ code: number | null; sig: NodeJS.Signals | null }>((done) => {
      child.once("exit", (code, sig) => {
        done({ code, sig });
      });
    });
    // Spawn failures (ENOENT, EACCES, ETXTBSY…) arrive as "error" instead of "spawn".
    child.once("error", reject);
    child.once("spawn", () => {
      child.removeListener("error", reject);
      child.on("error", () => undefined);
      resolve({ pid: child.pid ?? 0, stdin: child.stdin, stdout: child.stdout, stderr: child.stderr, exit });
    });
  });

const MAX_STDOUT = 16 * 1024 * 1024;
const MAX_TIMER_MS = 2 ** 31 - 1;
const MAX_STDERR_KEPT = 1024 * 1024;

type Attempt =
  | { kind: "spawn-error"; err: NodeJS.ErrnoException }
  | { kind: "exited"; code: number | null; sig: NodeJS.Signals | null; stdout: Buffer; stderr: string; ended: "exit" | "timeout" | "abort" | "overflow" };

const SIGNAL_TEXT: Partial<Record<NodeJS.Signals, string>> = {
  SIGKILL: "killed",
  SIGTERM: "terminated",
  SIGINT: "interrupt",
  SIGHUP: "hangup",
  SIGSEGV: "segmentation fault",
  SIGABRT: "aborted",
  SIGPIPE: "broken pipe",
  SIGBUS: "bus error",
  SIGILL: "illegal instruction",
  SIGFPE: "floating point exception",
};

const ERRNO_TEXT: Partial<Record<string, string>> = {
  ENOENT: "no such file or directory",
  EACCES: "permission denied",
  ETXTBSY: "text file busy",
  ENOEXEC: "exec format error",
  E2BIG: "argument list too long",
  ENOMEM: "cannot allocate memory",
};

/** What Go's exec error would print: "exit status 1", "signal: killed", "fork/exec /x: permission denied". */
function execErrorText(pluginPath: string, a: Attempt): string {
  if (a.kind === "spawn-error") return `fork/exec ${pluginPath}: ${ERRNO_TEXT[a.err.code ?? ""] ?? a.err.message}`;
  if (a.sig !== null) return `signal: ${SIGNAL_TEXT[a.sig] ?? a.sig}`;
  return `exit status ${String(a.code)}`;
}


/** libcni RawExec.pluginErr: the plugin's error object from stdout, or a fallback text. */
function pluginError(pluginPath: string, a: Attempt): CniError {
  const execErr = execErrorText(pluginPath, a);
  const stdout = a.kind === "exited" ? a.stdout : Buffer.alloc(0);
  const stderr = a.kind === "exited" ? a.stderr : "";
  if (stdout.length === 0) {
    if (stderr === "") return new CniError(CniCode.Internal, `netplugin failed with no error message: ${execErr}`);
    return new CniError(CniCode.Internal, `netplugin failed: ${goQuote(stderr)}: ${execErr}`);
  }
  const text = stdout.toString("utf8");
  let reason: string;
  try {
    const parsed: unknown = JSON.parse(text);
    if (!isRecord(parsed)) reason = "not a JSON object";
    else if (typeof parsed.code !== "number" || !Number.isInteger(parsed.code) || parsed.code < 0) reason = 'missing or invalid "code"';
    else if (parsed.msg !== undefined && typeof parsed.msg !== "string") reason = '"msg" is not a string';
    else if (parsed.details !== undefined && typeof parsed.details !== "string") reason = '"details" is not a string';
    else return new CniError(parsed.code, parsed.msg ?? "", parsed.details ?? "");
  } catch (err) {
    reason = (err as Error).message;
  }
  return new CniError(CniCode.Internal, `netplugin failed but error parsing its diagnostic message ${goQuote(text)}: ${reason}`);
}

interface RunOnceOptions {
  spawner: Spawner;
  file: string;
  argv: readonly string[];
  env: Record<string, string>;
  stdin: string | Uint8Array;
  deadline: number;
  signal: AbortSignal | undefined;
  onStderr: ((line: string) => void) | undefined;
  inheritFds: readonly number[];
  onSpawn: ((pid: number) => void) | undefined;
  onExit: ((pid: number) => void) | undefined;
}

async function runOnce(o: RunOnceOptions): Promise<Attempt> {
  const { file, argv, env, stdin, deadline, signal, onStderr } = o;
  let child: SpawnedProcess;
  try {
    child = await o.spawner(file, argv, env, o.inheritFds);
  } catch (err) {
    return { kind: "spawn-error", err: err as NodeJS.ErrnoException };
  }
  const pid = child.pid;
  o.onSpawn?.(pid);
  return new Promise<Attempt>((resolve) => {
    const out: Buffer[] = [];
    let outLen = 0;
    let errKept = "";
    let errPartial = "";
    let ended: "exit" | "timeout" | "abort" | "overflow" = "exit";
    let exit: { code: number | null; sig: NodeJS.Signals | null } | undefined;
    let openPipes = 2;
    let settled = false;

    const finish = (a: Attempt): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      if (errPartial !== "") {
        onStderr?.(errPartial);
        errPartial = "";
      }
      resolve(a);
    };
    const result = (): Attempt => ({
      kind: "exited",
      code: exit?.code ?? null,
      sig: exit?.sig ?? null,
      stdout: Buffer.concat(out),
      stderr: errKept,
      ended,
    });
    const stop = (why: "timeout" | "abort" | "overflow"): void => {
      if (settled || ended !== "exit") return;
      ended = why;
      killGroup(pid, exit === undefined);
      // Do not wait for the pipes: a grandchild outside the group could hold them open.
      if (exit !== undefined) {
        child.stdout.destroy();
        child.stderr.destroy();
        finish(result());
      }
    };
    const onAbort = (): void => {
      stop("abort");
    };
    // setTimeout turns delays beyond 2^31-1 ms into 1 ms: clamp (that is 24 days).
    const timer = setTimeout(() => {
      stop("timeout");
    }, Math.min(MAX_TIMER_MS, Math.max(0, deadline - Date.now())));
    signal?.addEventListener("abort", onAbort, { once: true });

    // The output is complete once the process has exited and both pipes are closed.
    const pipeClosed = (): void => {
      if (--openPipes === 0 && exit !== undefined) finish(result());
    };
    child.stdin.on("error", () => {
      // EPIPE: the plugin exited without reading stdin; its exit status tells the story.
    });
    child.stdout.on("error", () => undefined);
    child.stderr.on("error", () => undefined);
    child.stdout.on("data", (chunk: Buffer) => {
      outLen += chunk.length;
      if (outLen > MAX_STDOUT) {
        stop("overflow");
        return;
      }
      out.push(chunk);
    });
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (chunk: string) => {
      if (errKept.length < MAX_STDERR_KEPT) errKept += chunk.slice(0, MAX_STDERR_KEPT - errKept.length);
      errPartial += chunk;
      let nl = errPartial.indexOf("\n");
      while (nl >= 0) {
        onStderr?.(errPartial.slice(0, nl));
        errPartial = errPartial.slice(nl + 1);
        nl = errPartial.indexOf("\n");
      }
    });
    child.stdout.on("close", pipeClosed);
    child.stderr.on("close", pipeClosed);
    void child.exit.then((status) => {
      exit = status;
      o.onExit?.(pid);
      if (ended !== "exit") {
        child.stdout.destroy();
        child.stderr.destroy();
        finish(result());
      } else if (openPipes === 0) {
        finish(result());
      }
    });
    child.stdin.end(stdin);
    if (signal?.aborted === true) stop("abort");
  });
}

/**
 * The plugin leads its own process group (a session of its own), so its children die with it. Once
 * it has been reaped only the group is signalled: the kernel keeps its PID from reuse while the group
 * has members, but the PID alone may be another process's by then.
 */
function killGroup(pid: number, notReaped: boolean): void {
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    if (!notReaped) return;
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
}

export async function execPlugin(req: ExecPluginRequest): Promise<Buffer> {
  const env = buildPluginEnv(req.env ?? process.env, req);
  const launcher = [...(pluginRoot === undefined ? [] : [pluginRoot.chroot, pluginRoot.root]), ...(req.launcher ?? [])];
  const file = launcher[0] ?? req.pluginPath;
  const argv = launcher.length > 0 ? [...launcher.slice(1), req.pluginPath] : [];
  const start = Date.now();
  const deadline = start + req.timeoutMs;
  const retries = req.busyRetries ?? 5;
  const delay = req.busyRetryDelayMs ?? 1000;
  const what = `plugin ${req.pluginPath} (${req.command})`;

  for (let attempt = 0; ; attempt++) {
    const a = await runOnce({
      spawner: req.spawner ?? nodeSpawner,
      file,
      argv,
      env,
      stdin: req.stdin,
      deadline,
      signal: req.signal,
      onStderr: req.onStderr,
      inheritFds: req.inheritFds ?? [],
      onSpawn: req.onSpawn,
      onExit: req.onExit,
    });
    // Under chroot the exec of the plugin is chroot's: its "Text file busy" (exit 126) is the same case.
    const busy = (a.kind === "spawn-error" && a.err.code === "ETXTBSY") || (pluginRoot !== undefined && a.kind === "exited" && a.code === 126 && /text file busy/i.test(a.stderr));
    if (busy && attempt < retries) {
      // libcni raw_exec: the plugin binary is being written; wait a second and try again.
      const left = deadline - Date.now();
      if (left <= delay) break;
      try {
        await sleep(delay, undefined, req.signal === undefined ? {} : { signal: req.signal });
      } catch {
        throw new CniError(CniCode.Internal, `${what} was cancelled while waiting for its binary to be written`);
      }
      continue;
    }
    if (a.kind === "exited") {
      if (a.ended === "timeout") {
        // CNI-R-17: libcni kills the plugin when its context ends; say who and how long.
        const why = req.deadlineReason ?? `timed out after ${req.timeoutMs} ms`;
        throw new CniError(CniCode.Internal, `${what} ${why} and was killed (it ran ${Date.now() - start} ms)`, a.stderr.trim());
      }
      if (a.ended === "abort") {
        const reason: unknown = req.signal?.reason;
        const why = reason instanceof Error ? reason.message : String(reason);
        throw new CniError(CniCode.Internal, `${what} was cancelled after ${Date.now() - start} ms and was killed: ${why}`);
      }
      if (a.ended === "overflow") throw new CniError(CniCode.Internal, `${what} wrote more than ${MAX_STDOUT} bytes to stdout and was killed`);
      if (a.code === 0 && a.sig === null) return a.stdout;
    }
    throw pluginError(req.pluginPath, a);
  }
  throw new CniError(CniCode.Internal, `${what} timed out after ${req.timeoutMs} ms: netplugin failed with no error message: fork/exec ${req.pluginPath}: text file busy`);
}

export interface ProbeVersionOptions {
  timeoutMs: number;
  env?: Readonly<Record<string, string | undefined>>;
  signal?: AbortSignal;
  launcher?: readonly string[];
  onStderr?: (line: string) => void;
  spawner?: Spawner;
}

/** CNI-R-14: ask a plugin which spec versions it supports (libcni invoke.GetVersionInfo). */
export async function probeVersion(pluginPath: string, opts: ProbeVersionOptions): Promise<VersionInfo> {
  let stdout: Buffer;
  try {
    stdout = await execPlugin({
      pluginPath,
      command: "VERSION",
      // Fake values required by plugins built against an older skel (libcni does the same).
      netns: "dummy",
      ifName: "dummy",
      path: ["dummy"],
      stdin: JSON.stringify({ cniVersion: LATEST_VERSION }),
      timeoutMs: opts.timeoutMs,
      ...(opts.env === undefined ? {} : { env: opts.env }),
      ...(opts.signal === undefined ? {} : { signal: opts.signal }),
      ...(opts.launcher === undefined ? {} : { launcher: opts.launcher }),
      ...(opts.onStderr === undefined ? {} : { onStderr: opts.onStderr }),
      ...(opts.spawner === undefined ? {} : { spawner: opts.spawner }),
    });
  } catch (err) {
    // Plugins older than the VERSION command reject it; libcni compares the whole error text.
    if (err instanceof CniError && err.message === "unknown CNI_COMMAND: VERSION" && err.details === "") {
      return { cniVersion: LATEST_VERSION, supportedVersions: ["0.1.0"] };
    }
    throw err;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(stdout.toString("utf8"));
  } catch (err) {
    throw new CniError(CniCode.DecodingFailure, `decoding version info: ${(err as Error).message}`);
  }
  if (!isRecord(parsed)) throw new CniError(CniCode.DecodingFailure, "decoding version info: not a JSON object");
  const cniVersion = parsed.cniVersion;
  if (typeof cniVersion !== "string" || cniVersion === "") {
    throw new CniError(CniCode.DecodingFailure, "decoding version info: missing field cniVersion");
  }
  const list = parsed.supportedVersions;
  if (list === undefined || list === null || (Array.isArray(list) && list.length === 0)) {
    // Plugins of the 0.2.0 era reported only their own version.
    if (cniVersion === "0.2.0") return { cniVersion, supportedVersions: ["0.1.0", "0.2.0"] };
    throw new CniError(CniCode.DecodingFailure, "decoding version info: missing field supportedVersions");
  }
  if (!Array.isArray(list) || !list.every((v): v is string => typeof v === "string")) {
    throw new CniError(CniCode.DecodingFailure, "decoding version info: supportedVersions is not a list of strings");
  }
  return { cniVersion, supportedVersions: list };
}
