// The host check: before multus-install lets a CNI config name Multus, the executables it copied
// must run on the host, as the container runtime will run them. The thin `multus` is a glibc Node
// executable (libstdc++, libgcc_s): on a musl node (Alpine-based, some appliances) or one with an
// older glibc every CNI call would fail at exec — in thin mode every pod, in thick mode every DEL
// while the daemon is down. So the installer chroots into the host's root (the DaemonSet mounts the
// node's / read-only at /hostroot) and asks each executable for VERSION, as a runtime does, with a
// deadline; a failure is explained from the loader's words and the executable's own ELF needs.
//
// Exported API:
//   checkHost(opts): Promise<void>   throws HostCheckError naming what the node lacks
//   checkHostRootMounted(hostRoot)   the same error early, when the node's root is not mounted
//   HOST_CHECK_ENV = "MULTUS_TS_HOST_CHECK"   set for the thin multus: it then also loads
//     multus-native.node and reports on stderr (src/cmd/multus.ts); a module that does not load is a
//     warning (the locks fall back to util-linux flock), not a failure
//   hostPathOf(path, hostRoot): the path on the host of a path this container sees
import { existsSync } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { basename, isAbsolute, join, relative } from "node:path";
import { isRecord } from "../cni/is-record.ts";
import { ExecError, execFileWithDeadline } from "../util/exec-file.ts";
import type { Logger } from "../util/logger.ts";
import { ELF_MACHINE_NAMES, ELF_MACHINES, readElfNeeds, type ElfNeeds } from "./elf-needs.ts";
import { sha256File } from "./files.ts";

export const HOST_CHECK_ENV = "MULTUS_TS_HOST_CHECK";
/** What the thin multus writes on stderr under HOST_CHECK_ENV: `multus-native.node: loaded | absent | <error>`. */
export const NATIVE_REPORT_PREFIX = "multus-native.node: ";

export class HostCheckError extends Error {
  constructor(msg: string, options?: ErrorOptions) {
    super(msg, options);
    this.name = "HostCheckError";
  }
}

export interface HostCheckOptions {
  type: "thick" | "thin";
  /** Where the node's / is mounted in this container (--host-root). */
  hostRoot: string;
  /** Where the executables were installed, as this container sees it (the host path, or one under hostRoot). */
  cniBinDir: string;
  log: Logger;
  /** Per executable; default 30 s (a 127 MiB executable's first start on a cold page cache). */
  timeoutMs?: number;
}

const TIMEOUT_MS = 30_000;
/** The request a runtime sends with CNI_COMMAND=VERSION. */
const VERSION_REQUEST = '{"cniVersion":"1.1.0"}';
const FIX = 'docs/install.md "What a node needs"; --skip-host-check installs anyway';

/** A path this container sees, as the host names it: under hostRoot → the rest; else mounted at its host path. */
export function hostPathOf(path: string, hostRoot: string): string {
  const rel = relative(hostRoot, path);
  return rel === "" ? "/" : !rel.startsWith("..") && !isAbsolute(rel) ? `/${rel}` : path;
}

/** The node's root is mounted where the check will chroot (the installer asks before its first write). */
export async function checkHostRootMounted(hostRoot: string): Promise<void> {
  const root = await stat(hostRoot).catch(() => undefined);
  if (root?.isDirectory() !== true) {
    throw new HostCheckError(`cannot check that the node runs Multus: the node's root is not mounted at ${hostRoot} (mount hostPath "/" there read-only, as deploy/thick and deploy/thin do, or pass --host-root; ${FIX})`);
  }
}

export async function checkHost(o: HostCheckOptions): Promise<void> {
  await checkHostRootMounted(o.hostRoot);
  const binOnHost = hostPathOf(o.cniBinDir, o.hostRoot);
  await runVersion(o, binOnHost, "multus", o.type === "thin" ? "the runtime runs it for every CNI call" : "multus-shim runs it for a DEL while the daemon is down");
  if (o.type === "thick") await runVersion(o, binOnHost, "multus-shim", "the runtime runs it for every CNI call");
  o.log.info({ hostRoot: o.hostRoot, binDir: binOnHost }, "host check passed: the node runs the installed executables");
}

async function runVersion(o: HostCheckOptions, binOnHost: string, name: string, role: string): Promise<void> {
  const installed = join(o.cniBinDir, name);
  const onHost = join(binOnHost, name);
  const seen = join(o.hostRoot, onHost);
  // What the chroot would run must be what was installed: a bin dir mounted from another host path
  // than the one named would pass (or fail) the check for the wrong file.
  if (!(await sameFile(installed, seen))) {
    throw new HostCheckError(`cannot check that the node runs ${name}: ${seen} (the node's ${onHost}) is not the file installed as ${installed}; mount the node's CNI bin dir at its host path, or pass its path under --host-root as --cni-bin-dir (${FIX})`);
  }
  const what = `${onHost} (${role})`;
  let stdout: string;
  let stderr: string;
  try {
    ({ stdout, stderr } = await execFileWithDeadline(chrootCommand(), [o.hostRoot, onHost], {
      timeoutMs: o.timeoutMs ?? TIMEOUT_MS,
      input: VERSION_REQUEST,
      // Nothing of this container's environment (an LD_LIBRARY_PATH would hide what the node lacks).
      env: { CNI_COMMAND: "VERSION", PATH: "/usr/sbin:/usr/bin:/sbin:/bin", [HOST_CHECK_ENV]: "1" },
    }));
  } catch (err) {
    if (!(err instanceof ExecError)) throw err;
    throw new HostCheckError(`the node cannot run ${what}: ${await explain(err, o, installed)}`, { cause: err });
  }
  if (!isVersionResult(stdout)) {
    throw new HostCheckError(`the node cannot run ${what}: it answered CNI_COMMAND=VERSION with ${JSON.stringify(stdout.trim().slice(0, 200))}${stderr.trim() === "" ? "" : ` (stderr: ${stderr.trim().slice(0, 300)})`}, not a CNI VERSION result; is ${installed} from this image?`);
  }
  if (name !== "multus") return;
  const native = stderr.split("\n").find((l) => l.startsWith(NATIVE_REPORT_PREFIX))?.slice(NATIVE_REPORT_PREFIX.length);
  if (native !== undefined && native !== "loaded") {
    o.log.warn({ module: join(binOnHost, "multus-native.node"), problem: native }, "the node cannot load multus-native.node: thin Multus runs without it (each lock costs a util-linux flock process, delegates are spawned by Node)");
  }
}

/** A CNI VERSION result: {"cniVersion": "…", "supportedVersions": ["…", …]}. */
function isVersionResult(stdout: string): boolean {
  let json: unknown;
  try {
    json = JSON.parse(stdout);
  } catch {
    return false;
  }
  const versions = isRecord(json) ? json["supportedVersions"] : undefined;
  return isRecord(json) && typeof json["cniVersion"] === "string" && Array.isArray(versions) && versions.length > 0 && versions.every((v) => typeof v === "string");
}

/** The exec's failure in the node's terms: what is missing, and what this build needs. */
async function explain(err: ExecError, o: HostCheckOptions, installed: string): Promise<string> {
  const timeoutS = String((o.timeoutMs ?? TIMEOUT_MS) / 1000);
  if (err.timedOut) return `no answer to CNI_COMMAND=VERSION within ${timeoutS} s (a node that slow would fail CNI calls too)`;
  const stderr = err.stderr.trim();
  const needs = await readElfNeeds(installed).catch(() => undefined);
  const needed = needs === undefined ? "" : ` A node needs ${requirements(needs)} (${FIX}).`;
  if (/cannot change root directory/.test(stderr)) {
    return `chroot into ${o.hostRoot} failed (${stderr}): the container needs CAP_SYS_CHROOT (in the runtime's default capabilities; a securityContext that drops ALL must add it back) (${FIX})`;
  }
  if (err.exitCode === null && /ENOENT/.test(err.message)) return `${chrootCommand()} not found in this container: the image ships /usr/sbin/chroot (${FIX})`;
  // Before the exec's own words, which vary: for a foreign ELF the kernel says ENOEXEC, and chroot's
  // execvp then runs it with the node's /bin/sh, whose complaint (or ENOENT without one) is the stderr.
  const here = ELF_MACHINES[process.arch];
  if (needs !== undefined && here !== undefined && needs.machine !== here) {
    const name = (m: number): string => ELF_MACHINE_NAMES[m] ?? `ELF machine ${String(m)}`;
    return `it is built for ${name(needs.machine)} and the node is ${name(here)} (Exec format error): an image for another architecture? (${FIX})`;
  }
  let m: RegExpExecArray | null;
  if ((m = /error while loading shared libraries: ([^:\s]+): cannot open shared object file/.exec(stderr)) !== null) {
    return `the node has no ${m[1] ?? "?"}${providedBy(m[1] ?? "")}.${needed}`;
  }
  const missing = missingVersions(stderr, join(hostPathOf(o.cniBinDir, o.hostRoot), basename(installed)));
  if (missing !== undefined) return `${versionProblem(missing.version, missing.lib)} (the loader: ${missing.line}).${needed}`;
  if (/Exec format error/.test(stderr)) return `the node's CPU cannot execute it (Exec format error): an image for another architecture? (${FIX})`;
  if (/Permission denied/.test(stderr)) return `execution is not permitted (${firstLine(stderr)}): is the node's CNI bin dir on a noexec file system? (${FIX})`;
  // The executable is there (checked before): "No such file" from exec is its ELF interpreter.
  if (/No such file or directory/.test(stderr) && needs?.interpreter !== undefined) {
    const musl = await muslLoader(o.hostRoot);
    return `the node has no ${needs.interpreter}, the glibc dynamic loader this executable names: ${musl === undefined ? "the node has no glibc" : `the node has no glibc: it is a musl system (${musl}: Alpine-based or similar), which cannot run glibc executables`}.${needed}`;
  }
  return `exit code ${String(err.exitCode)}: ${stderr === "" ? err.message : stderr.slice(0, 500)}.${needed}`;
}

/** "glibc ≥ 2.28 (…), libstdc++.so.6 with GLIBCXX_3.4.21, CXXABI_1.3.11, libgcc_s.so.1 with GCC_3.4": from the executable itself. */
function requirements(needs: ElfNeeds): string {
  const glibc: string[] = needs.interpreter === undefined ? [] : [needs.interpreter];
  const others: string[] = [];
  let glibcMax = "";
  for (const lib of needs.libraries) {
    const own = lib.versions.filter((v) => !v.startsWith("GLIBC_"));
    for (const v of lib.versions) if (v.startsWith("GLIBC_") && compareVersions(v.slice(6), glibcMax) > 0) glibcMax = v.slice(6);
    if (own.length === 0 && isGlibcPart(lib.file)) {
      if (!glibc.some((g) => g.endsWith(`/${lib.file}`) || g === lib.file)) glibc.push(lib.file);
      continue;
    }
    const maxPerPrefix = new Map<string, string>();
    for (const v of own) {
      const [prefix = "", version = ""] = v.split("_");
      if (compareVersions(version, maxPerPrefix.get(prefix) ?? "") > 0) maxPerPrefix.set(prefix, version);
    }
    others.push(`${lib.file}${maxPerPrefix.size === 0 ? "" : ` with ${[...maxPerPrefix].map(([p, v]) => `${p}_${v}`).join(", ")}`}`);
  }
  return [`glibc ≥ ${glibcMax === "" ? "?" : glibcMax} (${glibc.join(", ")})`, ...others].join(", ");
}

function isGlibcPart(file: string): boolean {
  return /^(libc|libm|libdl|libpthread|librt|libresolv|ld-linux[^.]*)\.so/.test(file);
}

function providedBy(lib: string): string {
  if (lib.startsWith("libstdc++")) return " (GCC's C++ runtime: the libstdc++6 package on Debian/Ubuntu, libstdc++ on RHEL/Fedora/SUSE)";
  if (lib.startsWith("libgcc_s")) return " (GCC's support library: libgcc-s1 on Debian/Ubuntu, libgcc on RHEL/Fedora/SUSE)";
  if (isGlibcPart(lib)) return " (part of glibc)";
  return "";
}

/**
 * The loader lists every symbol version it misses, one line each (`<lib>: version `GLIBC_2.28' not
 * found (required by <file>)`), in no useful order: the newest the executable itself asks for is the
 * one that says how old the node's library is (a library's own needs come from the node, not us).
 */
function missingVersions(stderr: string, exe: string): { lib: string; version: string; line: string } | undefined {
  const all = [...stderr.matchAll(/^.*?([^\s:]+): version `([A-Z]+)_([0-9.]+)' not found \(required by ([^)]+)\).*$/gm)].map((m) => ({ line: m[0], lib: m[1] ?? "", prefix: m[2] ?? "", number: m[3] ?? "", by: m[4] ?? "" }));
  const own = all.filter((x) => x.by === exe);
  const pool = own.length > 0 ? own : all;
  // glibc first: without it nothing else loads; then the C++ runtime.
  for (const prefix of ["GLIBC", "GLIBCXX", "CXXABI", "GCC"]) {
    const newest = pool.filter((x) => x.prefix === prefix).sort((a, b) => compareVersions(b.number, a.number))[0];
    if (newest !== undefined) return { lib: newest.lib, version: `${prefix}_${newest.number}`, line: newest.line };
  }
  const first = pool[0];
  return first === undefined ? undefined : { lib: first.lib, version: `${first.prefix}_${first.number}`, line: first.line };
}

function versionProblem(version: string, lib: string): string {
  const [prefix = "", number = ""] = version.split("_");
  if (prefix === "GLIBC") return `the node's glibc (${lib}) is older than ${number}`;
  if (prefix === "GLIBCXX" || prefix === "CXXABI") return `the node's libstdc++ (${lib}) is too old: it lacks ${version}`;
  if (prefix === "GCC") return `the node's libgcc_s (${lib}) is too old: it lacks ${version}`;
  return `${lib} lacks ${version}`;
}

/** musl's loader (/lib/ld-musl-<arch>.so.1) in the host's root, or undefined. */
async function muslLoader(hostRoot: string): Promise<string | undefined> {
  for (const dir of ["lib", "usr/lib"]) {
    const names = await readdir(join(hostRoot, dir)).catch(() => [] as string[]);
    const hit = names.find((n) => /^ld-musl-.*\.so\.1$/.test(n));
    if (hit !== undefined) return `/${dir}/${hit}`;
  }
  return undefined;
}

function compareVersions(a: string, b: string): number {
  const pa = a.split(".").map(Number);
  const pb = b.split(".").map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? -1) - (pb[i] ?? -1);
    if (d !== 0) return d;
  }
  return 0;
}

function firstLine(s: string): string {
  return s.split("\n")[0] ?? "";
}

async function sameFile(a: string, b: string): Promise<boolean> {
  const [sa, sb] = await Promise.all([stat(a).catch(() => undefined), stat(b).catch(() => undefined)]);
  if (sa === undefined || sb === undefined) return false;
  if (sa.ino === sb.ino && sa.dev === sb.dev) return true;
  return sa.size === sb.size && (await sha256File(a)) === (await sha256File(b));
}

/** coreutils' chroot: the image has /usr/sbin/chroot; else whatever PATH finds. */
function chrootCommand(): string {
  for (const p of ["/usr/sbin/chroot", "/usr/bin/chroot", "/sbin/chroot", "/bin/chroot"]) if (existsSync(p)) return p;
  return "chroot";
}
