// What starting a process costs, the part of a thin call no implementation work can remove: each
// implementation's `multus` answering CNI_COMMAND=VERSION, against `/bin/true` (the cost of a spawn
// from the bench), `node -e 0` (this Node) and an empty Node single executable (a one-line script
// made a SEA exactly as scripts/build.ts makes ours: the floor of any Node SEA). Processes run one at
// a time, the cases in turn each round.
//
// Exported API:
//   startupCosts(impls, rounds): Promise<StartupResult[]>   (the empty SEA is built in a temp dir, removed after)
//   interface StartupResult { label, p50, p90 }
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeSea } from "../../scripts/sea.ts";
import type { Implementation } from "./implementations.ts";
import { summarize } from "./stats.ts";

export interface StartupResult {
  label: string;
  p50: number;
  p90: number;
}

function timeOnce(argv: readonly string[], env: Record<string, string>): Promise<number> {
  const [file, ...args] = argv;
  if (file === undefined) return Promise.reject(new Error("empty argv"));
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env, stdio: ["ignore", "ignore", "ignore"] });
    child.on("error", reject);
    child.on("close", (code) => {
      if (code === 0) resolve(performance.now() - started);
      else reject(new Error(`${argv.join(" ")} exited ${String(code)}`));
    });
  });
}

export async function startupCosts(impls: readonly Implementation[], rounds: number): Promise<StartupResult[]> {
  const workDir = await mkdtemp(join(tmpdir(), "mt-bench-startup-"));
  try {
    return await measure(impls, workDir, rounds);
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

async function measure(impls: readonly Implementation[], workDir: string, rounds: number): Promise<StartupResult[]> {
  const empty = join(workDir, "empty-sea");
  await writeFile(`${empty}.cjs`, "process.exitCode = 0;\n");
  makeSea(`${empty}.cjs`, empty, workDir);
  const env = { PATH: process.env["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin" };
  const cases: { label: string; argv: string[]; env: Record<string, string> }[] = [
    { label: "/bin/true", argv: ["/bin/true"], env },
    { label: "node -e 0", argv: [process.execPath, "-e", "0"], env },
    { label: "an empty Node SEA", argv: [empty], env },
    ...impls.map((i) => ({ label: `${i.label} multus, CNI_COMMAND=VERSION`, argv: [i.thin], env: { ...env, CNI_COMMAND: "VERSION" } })),
  ];
  const samples = cases.map(() => [] as number[]);
  for (let r = 0; r < rounds + 3; r++) {
    for (const [i, c] of cases.entries()) {
      const ms = await timeOnce(c.argv, c.env);
      if (r >= 3) samples[i]?.push(ms);
    }
  }
  return cases.map((c, i) => {
    const s = summarize(samples[i] ?? []);
    return { label: c.label, p50: s.p50, p90: s.p90 };
  });
}
