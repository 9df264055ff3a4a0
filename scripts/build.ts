// Build every executable into dist/bin, since hosts have no Node:
// - one Node single executable application, dist/bin/multus: the esbuild bundle of src/cmd/dispatch.ts
//   (dist/bundle/multus.cjs) injected into a copy of this node binary, with the other commands as hard
//   links to it (the program's name picks the command); `build.ts <name>` still makes a SEA of one
//   src/cmd/<name>.ts alone;
// - C programs: multus-shim from every src/shim/*.c, compiled with gcc and linked statically, so a host
//   needs no library (multus-shim starts on every CNI call: docs/performance.md, "multus-shim: how it ships");
// - multus-native.node (every src/native/*.c): the Node-API module the SEA loads from its own directory
//   for flock(2) and posix_spawn(3) (src/util/native-module.ts), built against the ABI-stable headers
//   of node-api-headers.
// Usage: node scripts/build.ts [--bundle-only] [name...]   (--bundle-only: bundles only, no C)
import { execFileSync } from "node:child_process";
import { linkSync, mkdirSync, readdirSync, renameSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { bundle, makeSea } from "./sea.ts";

const root = resolve(import.meta.dirname, "..");
const bundleDir = join(root, "dist", "bundle");
const binDir = join(root, "dist", "bin");

/**
 * One multi-call Node SEA, dist/bin/multus (src/cmd/dispatch.ts: the command is the program's name),
 * and the other TypeScript commands as hard links to it: a SEA embeds the Node runtime (≈ 120 MiB),
 * so one file instead of four (docs/install.md, "Host footprint"). Later issues add multusctl, vfioveth.
 */
const MULTI_CALL = "multus";
const ALIASES: readonly string[] = ["passthru", "vfioveth", "multus-daemon", "multus-install", "multusctl"];
/** C executables: multus-shim is every src/shim/*.c (its units: docs/thick-mode.md, "The shim"). */
const C_EXECUTABLES: readonly string[] = ["multus-shim"];
/** -Werror: the shim must compile clean; -static -s: no shared library on the host, no symbols. */
const C_FLAGS = ["-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-static", "-s"];
/** A shared object Node dlopens: position-independent, no symbols but the module's init. */
const NATIVE_FLAGS = ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC", "-s"];

/** Node-API modules: every src/<dir>/*.c → dist/bin/<name>, loaded by the SEA from its directory. */
const NATIVE_MODULES: Readonly<Record<string, string>> = { "multus-native.node": "native" };

const { values, positionals } = parseArgs({ options: { "bundle-only": { type: "boolean" } }, allowPositionals: true });
// A name that is not a C executable is bundled from src/cmd/<name>.ts, listed or not.
const wanted = positionals.length > 0 ? positionals : [MULTI_CALL, ...C_EXECUTABLES, ...Object.keys(NATIVE_MODULES)];

mkdirSync(bundleDir, { recursive: true });
mkdirSync(binDir, { recursive: true });

for (const name of wanted) {
  const started = performance.now();
  if (C_EXECUTABLES.includes(name)) {
    if (values["bundle-only"] === true) continue;
    const shimDir = join(root, "src", "shim");
    const sources = readdirSync(shimDir).filter((f) => f.endsWith(".c")).sort().map((f) => join(shimDir, f));
    buildC(name, C_FLAGS, sources);
  } else if (name in NATIVE_MODULES) {
    if (values["bundle-only"] === true) continue;
    const headers = join(root, "node_modules", "node-api-headers", "include");
    const dir = join(root, "src", NATIVE_MODULES[name] ?? name);
    const sources = readdirSync(dir).filter((f) => f.endsWith(".c")).sort().map((f) => join(dir, f));
    buildC(name, [...NATIVE_FLAGS, "-I", headers], sources);
  } else if (name === MULTI_CALL) {
    const bundlePath = join(bundleDir, `${name}.cjs`);
    await bundle(join(root, "src", "cmd", "dispatch.ts"), bundlePath);
    if (values["bundle-only"] !== true) {
      makeSea(bundlePath, join(binDir, name), bundleDir);
      for (const alias of ALIASES) hardLink(join(binDir, name), join(binDir, alias));
    }
  } else {
    // Any other src/cmd/<name>.ts on its own (benchmarks compare single-command bundles).
    const bundlePath = join(bundleDir, `${name}.cjs`);
    await bundle(join(root, "src", "cmd", `${name}.ts`), bundlePath);
    if (values["bundle-only"] !== true) makeSea(bundlePath, join(binDir, name), bundleDir);
  }
  console.log(`built ${name} in ${Math.round(performance.now() - started)} ms`);
}

/** `alias` becomes a hard link to `target`, by link-to-temp + rename (a running alias keeps its inode). */
function hardLink(target: string, alias: string): void {
  const tmp = `${alias}.tmp-link`;
  rmSync(tmp, { force: true });
  linkSync(target, tmp);
  renameSync(tmp, alias);
}

/** gcc with `flags`: `sources` (compiled and linked together) → dist/bin/<name>. */
function buildC(name: string, flags: readonly string[], sources: readonly string[]): void {
  const tmp = join(binDir, `.${name}.tmp`);
  rmSync(tmp, { force: true });
  try {
    execFileSync("gcc", [...flags, "-o", tmp, ...sources], { stdio: ["ignore", "ignore", "pipe"] });
  } catch (err) {
    rmSync(tmp, { force: true });
    if (err instanceof Error && "code" in err && err.code === "ENOENT") {
      throw new Error(`gcc not found: ${name} is C and needs gcc and libc6-dev (static libc); scripts/setup.sh installs both`, { cause: err });
    }
    const stderr = err instanceof Error && "stderr" in err ? String(err.stderr) : "";
    const hint = stderr.includes("cannot find -lc") ? " (no static libc: install libc6-dev)" : "";
    throw new Error(`gcc could not build ${name}${hint}:\n${stderr}`, { cause: err });
  }
  // Write next to the target and rename: a running plugin keeps its old inode ("text file busy").
  renameSync(tmp, join(binDir, name));
}
