// The shim's C parsers under libFuzzer with ASan and UBSan: src/shim/json.c (fuzz-json) and
// src/shim/http.c (fuzz-http), each for 20 s on a copy of its seed corpus (test/fuzz/shim/corpus/),
// so that the tree's corpus stays as it is. A crash, a leak, a failed check, undefined behaviour,
// an input slower than 10 s or 2 GiB of RSS fails the test with libFuzzer's report and the input.
// The builds are cached (test/fuzz/shim/build-fuzzers.ts). Longer runs that grow the corpus:
// scripts/fuzz-shim.sh (docs/testing.md, "Fuzzing the shim").
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { cp, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { buildShimFuzzers, fuzzTargets, type FuzzTarget } from "../fuzz/shim/build-fuzzers.ts";

const SECONDS = 20;
// Stack traces with file:line need llvm-symbolizer (Debian's llvm-14 has it, under no name in PATH).
const SYMBOLIZER = "/usr/lib/llvm-14/bin/llvm-symbolizer";
const SANITIZER_ENV = {
  ASAN_OPTIONS: "detect_leaks=1",
  UBSAN_OPTIONS: "print_stacktrace=1",
  ...(existsSync(SYMBOLIZER) ? { ASAN_SYMBOLIZER_PATH: SYMBOLIZER } : {}),
};
let builds: ReturnType<typeof buildShimFuzzers> | undefined;

interface FuzzRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
}

/** Run a fuzzer; keep the start and the last 48 KiB of its output (a long run prints a line per new input). */
function runFuzzer(binary: string, args: string[]): Promise<FuzzRun> {
  const child = spawn(binary, args, {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...SANITIZER_ENV },
    // -max_total_time ends it; this is for a fuzzer that hangs in its own start-up.
    signal: AbortSignal.timeout((SECONDS + 100) * 1000),
  });
  let head = "";
  let tail = "";
  const keep = (d: Buffer): void => {
    if (head.length < 4096) head += d.toString("utf8");
    else tail = (tail + d.toString("utf8")).slice(-48 * 1024);
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => {
      resolve({ code, signal, output: tail === "" ? head : `${head}\n[…]\n${tail}` });
    });
  });
}

async function fuzz(target: FuzzTarget): Promise<void> {
  builds ??= buildShimFuzzers();
  const binary = (await builds).get(target.name);
  assert.ok(binary !== undefined);
  const work = await mkdtemp(join(tmpdir(), `mt-shim-fuzz-${target.name}-`));
  try {
    const corpus = join(work, "corpus");
    await cp(target.corpus, corpus, { recursive: true });
    const seeds = (await readdir(corpus)).length;
    assert.ok(seeds >= 12, `${target.corpus} has ${seeds} seeds`);
    const args = [
      `-max_total_time=${SECONDS}`,
      "-timeout=10",
      "-rss_limit_mb=2048",
      `-max_len=${target.maxLen}`,
      `-dict=${target.dict}`,
      `-artifact_prefix=${work}/`,
      "-print_final_stats=1",
      corpus,
    ];
    const run = await runFuzzer(binary, args);
    if (run.code !== 0) {
      // crash-*, leak-*, timeout-*, oom-*, slow-unit-*: the input, to reproduce with `fuzz-<target> FILE`.
      const artifacts = (await readdir(work)).filter((f) => f !== "corpus");
      const inputs = await Promise.all(artifacts.map(async (f) => `${f} (base64): ${(await readFile(join(work, f))).toString("base64")}`));
      assert.fail(`fuzz-${target.name} ${run.signal ?? `exited ${String(run.code)}`}; add the input to ${target.corpus} once fixed\n${inputs.join("\n")}\n\n${run.output}`);
    }
    assert.match(run.output, /Done \d+ runs in \d+ second/, run.output);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

for (const target of fuzzTargets) {
  test(`fuzz-${target.name}: ${SECONDS} s of libFuzzer with ASan and UBSan on src/shim/${target.units[0] ?? ""} finds no crash, leak, timeout or undefined behaviour`, async () => {
    await fuzz(target);
  });
}
