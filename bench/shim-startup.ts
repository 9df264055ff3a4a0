// Benchmark: what one CNI call costs in the thick-mode shim, dist/bin/multus-shim (C, static) against
// the same shim as a Node single executable (bench/shim-node, built here into a temp dir), for a
// VERSION call and for a whole ADD against a trivial daemon (a node:http server on a unix socket that
// answers /readyz and /cni at once); `/bin/true` and `node -e 0` for reference. Rounds run the cases in turn, one
// process at a time; medians and p90s after a warm-up; nothing is asserted (timings are not tests).
// Also prints size, `file` and `ldd` of both. After `node scripts/build.ts multus-shim`:
//   node bench/shim-startup.ts [iterations=100]
// NODE_EXTRA_CA_CERTS is unset for every child: it adds ≈ 50 ms to every Node start (machine-notes).
import { execFileSync, spawn } from "node:child_process";
import { statSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { binPath } from "../test/helpers/run-executable.ts";
import { buildNodeShimSea } from "./shim-node/build-sea.ts";

const iterations = Number(process.argv[2] ?? "100");
const WARMUP = 5;
const env: Record<string, string> = {};
for (const [k, v] of Object.entries(process.env)) if (v !== undefined && k !== "NODE_EXTRA_CA_CERTS") env[k] = v;

const RESULT = '{"cniVersion":"1.0.0","interfaces":[{"name":"eth0","sandbox":"/run/netns/bench"}],"ips":[{"address":"10.1.2.3/24","interface":0}]}';

const work = await mkdtemp(join(tmpdir(), "mt-shim-bench-"));
const server = createServer((req, res) => {
  req.resume();
  req.on("end", () => {
    res.writeHead(200, { "Content-Type": "application/json" });
    res.end(req.url === "/cni" ? `{"Result":${RESULT}}` : "ok");
  });
});
try {
  const socketDir = join(work, "run");
  await mkdir(socketDir);
  await new Promise<void>((resolve) => server.listen(join(socketDir, "multus.sock"), resolve));
  const cShim = binPath("multus-shim");
  const nodeShim = await buildNodeShimSea(work);

  const config = JSON.stringify({ cniVersion: "1.0.0", name: "multus-cni-network", type: "multus-shim", daemonSocketDir: socketDir });
  const cni = (command: string): Record<string, string> => ({
    ...env, CNI_COMMAND: command, CNI_CONTAINERID: "bench", CNI_NETNS: "/run/netns/bench", CNI_IFNAME: "eth0", CNI_PATH: "/opt/cni/bin",
  });
  const cases: { name: string; argv: string[]; env: Record<string, string>; stdin: string; expect: string | undefined }[] = [
    { name: "/bin/true (the cost of spawning from here)", argv: ["/bin/true"], env, stdin: "", expect: undefined },
    { name: "node -e 0 (reference)", argv: [process.execPath, "-e", "0"], env, stdin: "", expect: undefined },
    { name: "C shim, VERSION", argv: [cShim], env: cni("VERSION"), stdin: config, expect: "supportedVersions" },
    { name: "Node SEA shim, VERSION", argv: [nodeShim], env: cni("VERSION"), stdin: config, expect: "supportedVersions" },
    { name: "C shim, ADD round-trip", argv: [cShim], env: cni("ADD"), stdin: config, expect: RESULT },
    { name: "Node SEA shim, ADD round-trip", argv: [nodeShim], env: cni("ADD"), stdin: config, expect: RESULT },
  ];
  const times = cases.map(() => [] as number[]);
  for (let round = 0; round < WARMUP + iterations; round++) {
    for (const [i, c] of cases.entries()) {
      const { ms, stdout } = await timeRun(c.argv, c.env, c.stdin);
      if (c.expect !== undefined && !stdout.includes(c.expect)) throw new Error(`${c.name}: unexpected output ${stdout}`);
      if (round >= WARMUP) times[i]?.push(ms);
    }
  }
  console.log(`${iterations} runs each after ${WARMUP} warm-up rounds, NODE_EXTRA_CA_CERTS unset\n`);
  console.log(`| case | median | p90 | min |\n|---|---|---|---|`);
  for (const [i, c] of cases.entries()) {
    const t = (times[i] ?? []).sort((a, b) => a - b);
    console.log(`| ${c.name} | ${ms(quantile(t, 0.5))} | ${ms(quantile(t, 0.9))} | ${ms(t[0] ?? NaN)} |`);
  }
  console.log("");
  for (const [name, path] of [["C shim", cShim], ["Node SEA shim", nodeShim]] as const) {
    console.log(`${name}: ${path}, ${(statSync(path).size / 1024).toFixed(0)} KiB`);
    console.log(`  file: ${execFileSync("file", ["-b", path]).toString().trim()}`);
    console.log(`  ldd:  ${ldd(path).split("\n").map((l) => l.trim()).join("\n        ")}`);
  }
} finally {
  await new Promise<void>((resolve) => {
    server.close(() => {
      resolve();
    });
  });
  await rm(work, { recursive: true, force: true });
}

function timeRun(argv: string[], childEnv: Record<string, string>, stdin: string): Promise<{ ms: number; stdout: string }> {
  const started = performance.now();
  const child = spawn(argv[0] ?? "", argv.slice(1), { env: childEnv, stdio: ["pipe", "pipe", "inherit"], signal: AbortSignal.timeout(30_000) });
  return new Promise((resolve, reject) => {
    let stdout = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      const took = performance.now() - started;
      if (code !== 0) reject(new Error(`${argv.join(" ")} exited ${String(code)}: ${stdout}`));
      else resolve({ ms: took, stdout });
    });
    child.stdin.on("error", () => undefined);
    child.stdin.end(stdin);
  });
}

/** ldd exits 1 for a static executable ("not a dynamic executable"); that answer is the point. */
function ldd(path: string): string {
  try {
    return execFileSync("ldd", [path], { stdio: ["ignore", "pipe", "pipe"] }).toString().trim();
  } catch (err) {
    const e = err as { stdout?: Buffer; stderr?: Buffer };
    return `${e.stdout?.toString() ?? ""}${e.stderr?.toString() ?? ""}`.trim();
  }
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
}

function ms(v: number): string {
  return `${v.toFixed(1)} ms`;
}
