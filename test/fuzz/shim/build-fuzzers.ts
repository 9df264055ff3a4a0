// The libFuzzer targets of the shim's C parsers (fuzz-json.c, fuzz-http.c here), built with Debian's
// clang (scripts/setup.sh installs clang and libclang-rt-14-dev, which has libFuzzer) with ASan and
// UBSan, every UB fatal. A build is cached in ~/.cache/multus-ts/shim-fuzz/<hash>/, the hash
// covering the sources, the flags and the compiler's version, so that a rerun skips it. Used by
// test/unit/shim-fuzz.test.ts and scripts/fuzz-shim.sh; run directly, it prints a line
// `<target> <binary> <max_len>` per target: node test/fuzz/shim/build-fuzzers.ts
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, rename, rm, stat } from "node:fs/promises";
import { homedir } from "node:os";
import { join, relative } from "node:path";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

export const fuzzDir = import.meta.dirname;
const shimDir = join(fuzzDir, "..", "..", "..", "src", "shim");

export interface FuzzTarget {
  name: "json" | "http";
  /** The seed corpus in the tree. */
  corpus: string;
  dict: string;
  /** Inputs up to this many bytes: enough to pass every limit the target is built with. */
  maxLen: number;
  /** The shim's units linked with the target (fuzz-<name>.c); none of them is multus-shim.c. */
  units: readonly string[];
  defines: readonly string[];
}

export const fuzzTargets: readonly FuzzTarget[] = [
  { name: "json", corpus: join(fuzzDir, "corpus", "json"), dict: join(fuzzDir, "json.dict"), maxLen: 8192, units: ["json.c", "buf.c"], defines: [] },
  {
    name: "http",
    corpus: join(fuzzDir, "corpus", "http"),
    dict: join(fuzzDir, "http.dict"),
    maxLen: 16384,
    units: ["http.c", "buf.c"],
    // The production limits (64 MiB of body, 64 KiB of headers, 72 MiB in all) are out of a fuzzer's
    // reach; the same code with small ones has every limit within a few KiB.
    defines: ["-DHTTP_BODY_LIMIT=4096", "-DHTTP_HEADER_LIMIT=512", "-DHTTP_CHUNK_LINE_LIMIT=64", "-DHTTP_FRAMING_ALLOWANCE=2048"],
  },
];

const CLANG_FLAGS = ["-std=c11", "-Wall", "-Wextra", "-Werror", "-g", "-O1", "-fsanitize=fuzzer,address,undefined", "-fno-sanitize-recover=undefined"];
const HEADERS = ["buf.h", "json.h", "http.h"];

/** MULTUS_TS_CACHE_DIR, as for the other cached builds (docs/testing.md), else ~/.cache/multus-ts. */
function cacheRoot(): string {
  const root = process.env["MULTUS_TS_CACHE_DIR"] ?? join(process.env["XDG_CACHE_HOME"] ?? join(homedir(), ".cache"), "multus-ts");
  return join(root, "shim-fuzz");
}

async function clangVersion(): Promise<string> {
  try {
    return (await execFileAsync("clang", ["--version"], { timeout: 30_000 })).stdout;
  } catch (err) {
    if (err instanceof Error && "code" in err && err.code === "ENOENT") {
      throw new Error("clang not found: the shim's fuzzers need clang and libclang-rt-14-dev (libFuzzer); scripts/setup.sh installs both", { cause: err });
    }
    throw err;
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** Build each target (or reuse the cached build); the binaries' paths by target name. */
export async function buildShimFuzzers(): Promise<Map<FuzzTarget["name"], string>> {
  const hash = createHash("sha256");
  hash.update(await clangVersion());
  hash.update(JSON.stringify(CLANG_FLAGS));
  for (const t of fuzzTargets) hash.update(JSON.stringify([t.name, t.units, t.defines]));
  const files = [...new Set([...fuzzTargets.flatMap((t) => t.units), ...HEADERS])].sort().map((f) => join(shimDir, f));
  for (const t of fuzzTargets) files.push(join(fuzzDir, `fuzz-${t.name}.c`));
  for (const f of files) hash.update(relative(fuzzDir, f)).update(await readFile(f));
  const dir = join(cacheRoot(), hash.digest("hex").slice(0, 16));
  await mkdir(dir, { recursive: true });

  const built = new Map<FuzzTarget["name"], string>();
  for (const t of fuzzTargets) {
    const binary = join(dir, `fuzz-${t.name}`);
    if (!(await exists(binary))) {
      // Built beside the target and renamed: a concurrent run never sees half a binary.
      const tmp = `${binary}.tmp-${process.pid}`;
      const sources = [join(fuzzDir, `fuzz-${t.name}.c`), ...t.units.map((u) => join(shimDir, u))];
      try {
        await execFileAsync("clang", [...CLANG_FLAGS, ...t.defines, "-I", shimDir, "-o", tmp, ...sources], { timeout: 300_000 });
      } catch (err) {
        await rm(tmp, { force: true });
        const stderr = err instanceof Error && "stderr" in err ? String(err.stderr) : "";
        const hint = stderr.includes("libclang_rt.fuzzer") ? " (no libFuzzer: install libclang-rt-14-dev)" : "";
        throw new Error(`clang could not build fuzz-${t.name}${hint}:\n${stderr}`, { cause: err });
      }
      await rename(tmp, binary);
    }
    built.set(t.name, binary);
  }
  await pruneOldBuilds(dir);
  return built;
}

/** Builds of older sources, unused for a week, go (a running one keeps its deleted binary). */
async function pruneOldBuilds(current: string): Promise<void> {
  const weekAgo = Date.now() - 7 * 24 * 3600 * 1000;
  for (const name of await readdir(cacheRoot())) {
    const dir = join(cacheRoot(), name);
    if (dir === current) continue;
    const s = await stat(dir).catch(() => undefined);
    if (s !== undefined && s.mtimeMs < weekAgo) await rm(dir, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  const built = await buildShimFuzzers();
  for (const t of fuzzTargets) console.log(`${t.name} ${built.get(t.name) ?? ""} ${t.maxLen}`);
}
