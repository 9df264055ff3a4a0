// Build every executable into dist/bin, since hosts have no Node:
// - Node single executable applications: one esbuild bundle per entry point src/cmd/<name>.ts
//   (dist/bundle/<name>.cjs), injected into a copy of this node binary;
// - C programs: src/shim/<name>.c, compiled with gcc and linked statically, so a host needs no library
//   (multus-shim starts on every CNI call: docs/performance.md, "multus-shim: how it ships").
// Usage: node scripts/build.ts [--bundle-only] [name...]   (--bundle-only: bundles only, no C)
import { execFileSync } from "node:child_process";
import { mkdirSync, renameSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { bundle, makeSea } from "./sea.ts";

const root = resolve(import.meta.dirname, "..");
const bundleDir = join(root, "dist", "bundle");
const binDir = join(root, "dist", "bin");

/** Node SEA executables, one per src/cmd/<name>.ts; later issues add multus-install, multusctl, vfioveth. */
const SEA_EXECUTABLES: readonly string[] = ["multus", "passthru", "multus-daemon"];
/**
 * Node flags baked into a SEA. The daemon lives long and allocates in small bursts: a 1 MiB young
 * generation keeps its heap ≈ 9 MiB smaller after a 64-pod burst at no measurable cost
 * (docs/performance.md, "Thick mode").
 */
const EXEC_ARGV: Readonly<Record<string, readonly string[]>> = { "multus-daemon": ["--max-semi-space-size=1"] };
/** C executables, one per src/shim/<name>.c. */
const C_EXECUTABLES: readonly string[] = ["multus-shim"];
/** -Werror: the shim must compile clean; -static -s: no shared library on the host, no symbols. */
const C_FLAGS = ["-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-static", "-s"];

const { values, positionals } = parseArgs({ options: { "bundle-only": { type: "boolean" } }, allowPositionals: true });
// A name that is not a C executable is bundled from src/cmd/<name>.ts, listed or not.
const wanted = positionals.length > 0 ? positionals : [...SEA_EXECUTABLES, ...C_EXECUTABLES];

mkdirSync(bundleDir, { recursive: true });
mkdirSync(binDir, { recursive: true });

for (const name of wanted) {
  const started = performance.now();
  if (C_EXECUTABLES.includes(name)) {
    if (values["bundle-only"] === true) continue;
    buildC(name);
  } else {
    const bundlePath = join(bundleDir, `${name}.cjs`);
    await bundle(join(root, "src", "cmd", `${name}.ts`), bundlePath);
    if (values["bundle-only"] !== true) makeSea(bundlePath, join(binDir, name), bundleDir, EXEC_ARGV[name] ?? []);
  }
  console.log(`built ${name} in ${Math.round(performance.now() - started)} ms`);
}

/** gcc, static: src/shim/<name>.c → dist/bin/<name>. */
function buildC(name: string): void {
  const tmp = join(binDir, `.${name}.tmp`);
  rmSync(tmp, { force: true });
  try {
    execFileSync("gcc", [...C_FLAGS, "-o", tmp, join(root, "src", "shim", `${name}.c`)], { stdio: ["ignore", "ignore", "pipe"] });
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
