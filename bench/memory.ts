// The thick daemon's memory, option by option, side by side with upstream's (docs/performance.md,
// "Memory"): each variant's daemon starts fresh (its binary read back from disk, bench/lib/system.ts),
// idles 2 s, then takes `--burst` concurrent ADDs and as many DELs (macvlan × 2 by default), as in
// the main bench; its RSS and anonymous memory are sampled every 50 ms throughout. Real parts as in
// bench/run.ts: the reference plugins in throw-away namespaces, the real kube-apiserver, pods as API
// objects, each variant's own daemon. Nothing is asserted. Run as root after `node scripts/build.ts`:
//
//   node bench/memory.ts [--burst 64] [--repeat 2] [--variants a,b,…] [--out bench/out/memory-<time>]
//
// Variants (what the issue asks to be measured; `--variants` picks some):
//   shipped       dist/bin/multus-daemon as the image runs it (it re-executes itself with
//                 --max-semi-space-size=1 and MALLOC_ARENA_MAX=2, and turns V8's optimizing compilers off)
//   semi-16       the same SEA with V8's default young generation (up to 16 MiB semi-spaces)
//   semi-4        … with 4 MiB semi-spaces
//   old-32        … semi-spaces of 1 MiB and --max-old-space-size=32
//   pool-0        … and --v8-pool-size=0 (no V8 worker threads)
//   arena-1       … with MALLOC_ARENA_MAX=1 (shipped: 2, glibc's malloc keeps two arenas, not one per thread)
//   node-bundle   the same bundle run by a plain `node` (dist/bundle/multus.cjs), not a SEA
//   node-floor    a reference, measured idle: node running an HTTP server on the socket and nothing else
//   limit-16/-8   as shipped, with connectionLimit 16 / 8 (requests executing at once; default 32)
//   upstream      upstream Multus v4.3.0's daemon (test/helpers/upstream-build.ts)
// Output: a Markdown table (printed, and results.md + results.json in the output directory).
import { copyFile, link, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { applyYaml, kubectl, releaseCluster, startCluster } from "../test/cluster/harness.ts";
import { createKubeBed } from "../test/helpers/kube-bed.ts";
import { repoRoot } from "../test/helpers/run-executable.ts";
import { startBenchDaemon, type BenchDaemonOptions } from "./lib/daemon.ts";
import { resolveImplementations } from "./lib/implementations.ts";
import { removeBenchNamespace, Workbench } from "./lib/scenarios.ts";
import { machine, memoryMiB } from "./lib/system.ts";

const { values } = parseArgs({
  options: {
    burst: { type: "string", default: "64" },
    repeat: { type: "string", default: "2" },
    variants: { type: "string", default: "shipped,semi-16,semi-4,old-32,pool-0,arena-1,node-bundle,node-floor,upstream" },
    out: { type: "string" },
  },
});
if (process.getuid?.() !== 0) throw new Error("the bench creates network namespaces: run it as root");
delete process.env["NODE_EXTRA_CA_CERTS"];
const burst = Number(values.burst);
const repeat = Number(values.repeat);
const wanted = values.variants.split(",").map((v) => v.trim()).filter((v) => v !== "");
const out = values.out ?? join(repoRoot, "bench", "out", `memory-${new Date().toISOString().replace(/[:.]/g, "-")}`);
await mkdir(out, { recursive: true });
const log = (line: string): void => {
  process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
};

const [ours] = resolveImplementations(["ours"]);
if (ours === undefined) throw new Error("no dist/bin");
// A plain node beside the bundle and the native module (the SEA loads multus-native.node from its
// own directory; so does node run this way).
const nodeDir = await mkdtemp(join(tmpdir(), "mt-bench-node-"));
await copyFile(process.execPath, join(nodeDir, "node"));
await link(join(ours.dir, "multus-native.node"), join(nodeDir, "multus-native.node")).catch(() => copyFile(join(ours.dir, "multus-native.node"), join(nodeDir, "multus-native.node")));
const bundle = join(repoRoot, "dist", "bundle", "multus.cjs");

interface Variant {
  name: string;
  what: string;
  options: Partial<BenchDaemonOptions> & { executable: string };
  /** A reference that cannot take CNI requests: measured idle only. */
  idleOnly?: boolean;
}

/** The floor of any Node daemon: an HTTP server on the daemon's socket that answers 200 and does nothing else. */
const FLOOR_SCRIPT = `
const cfg = JSON.parse(require("node:fs").readFileSync(process.argv[process.argv.indexOf("--config") + 1], "utf8"));
require("node:fs").mkdirSync(cfg.socketDir, { recursive: true });
require("node:fs").rmSync(cfg.socketDir + "/multus.sock", { force: true });
require("node:http").createServer((q, s) => s.end()).listen(cfg.socketDir + "/multus.sock");
`;

const SEMI = "--max-semi-space-size=1";
/** What the shipped daemon sets when it re-executes itself (src/cmd/dispatch.ts); NODE_OPTIONS with a young-generation size skips that, so the variants that set one set this too. */
const ARENAS = { MALLOC_ARENA_MAX: "2" };
const all: Variant[] = [
  { name: "shipped", what: "the SEA as shipped (semi-spaces 1 MiB)", options: { executable: ours.daemon } },
  { name: "semi-16", what: "the SEA, V8's default young generation (semi-spaces up to 16 MiB)", options: { executable: ours.daemon, env: { ...ARENAS, NODE_OPTIONS: "--max-semi-space-size=16" } } },
  { name: "semi-4", what: "the SEA, semi-spaces 4 MiB", options: { executable: ours.daemon, env: { ...ARENAS, NODE_OPTIONS: "--max-semi-space-size=4" } } },
  { name: "old-32", what: "the SEA, semi-spaces 1 MiB, --max-old-space-size=32", options: { executable: ours.daemon, env: { ...ARENAS, NODE_OPTIONS: `${SEMI} --max-old-space-size=32` } } },
  { name: "pool-0", what: "the SEA, semi-spaces 1 MiB, --v8-pool-size=0", options: { executable: ours.daemon, env: { ...ARENAS, NODE_OPTIONS: `${SEMI} --v8-pool-size=0` } } },
  { name: "arena-1", what: "the SEA as shipped but MALLOC_ARENA_MAX=1 (shipped: 2)", options: { executable: ours.daemon, env: { MALLOC_ARENA_MAX: "1" } } },
  { name: "node-bundle", what: "node dist/bundle/multus.cjs, semi-spaces 1 MiB", options: { executable: join(nodeDir, "node"), command: [join(nodeDir, "node"), bundle, "multus-daemon"] } },
  { name: "node-floor", what: "an idle node HTTP server on the socket, nothing else (the floor of a Node daemon)", idleOnly: true, options: { executable: join(nodeDir, "node"), command: [join(nodeDir, "node"), "-e", FLOOR_SCRIPT, "--"] } },
  { name: "limit-16", what: "the SEA as shipped, connectionLimit 16 (default 32)", options: { executable: ours.daemon, config: { connectionLimit: 16 } } },
  { name: "limit-8", what: "the SEA as shipped, connectionLimit 8", options: { executable: ours.daemon, config: { connectionLimit: 8 } } },
];
const variants: Variant[] = [];
for (const name of wanted) {
  if (name === "upstream") {
    const [up] = resolveImplementations(["upstream"]);
    if (up !== undefined) variants.push({ name, what: `upstream Multus ${up.version}`, options: { executable: up.daemon } });
    continue;
  }
  const v = all.find((x) => x.name === name);
  if (v === undefined) throw new Error(`--variants: unknown variant ${name} (${[...all.map((x) => x.name), "upstream"].join(", ")})`);
  variants.push(v);
}

interface Row {
  name: string;
  what: string;
  idleRss: number;
  idleAnon: number;
  peakRss: number;
  peakAnon: number;
  addWallS: number;
  delWallS: number;
  errors: number;
}

const { paths } = await startCluster();
const ns = `bench-mem-${String(process.pid)}`;
await applyYaml(`apiVersion: v1\nkind: Namespace\nmetadata: { name: ${ns} }\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata: { name: default, namespace: ${ns} }\n`);
const bed = await createKubeBed(paths, { mode: "thin" });
const serverVersion = (JSON.parse(await kubectl(["version", "-o", "json"])) as { serverVersion?: { gitVersion?: string } }).serverVersion?.gitVersion ?? "unknown";
const rows: Row[] = [];
try {
  const wb = new Workbench(bed, ns);
  await wb.prepare(2);
  const pods = await wb.pods(burst, wb.networks("macvlan", 2), "m");
  // Variants take turns, `repeat` times, so that drift falls on all of them; each row is the median.
  const runs = new Map<string, Row[]>();
  for (let r = 0; r < repeat; r++) {
    for (const v of r % 2 === 0 ? variants : [...variants].reverse()) {
      log(`${v.name} (${String(r + 1)} of ${String(repeat)})`);
      const daemon = await startBenchDaemon({ label: `mem-${v.name}`, cluster: paths, nodeNs: bed.node.name, state: bed.state, confDir: bed.confDir, ...v.options });
      let peakAnon = 0;
      let peakRss = 0;
      const sample = (): void => {
        try {
          peakAnon = Math.max(peakAnon, memoryMiB(daemon.pid, "RssAnon"));
          peakRss = Math.max(peakRss, memoryMiB(daemon.pid, "VmRSS"));
        } catch {
          // Gone: the burst reports the errors.
        }
      };
      const sampler = setInterval(sample, 50);
      try {
        await sleep(2000);
        const idleRss = memoryMiB(daemon.pid, "VmRSS");
        const idleAnon = memoryMiB(daemon.pid, "RssAnon");
        if (v.idleOnly === true) {
          runs.set(v.name, [...(runs.get(v.name) ?? []), { name: v.name, what: v.what, idleRss, idleAnon, peakRss: Number.NaN, peakAnon: Number.NaN, addWallS: Number.NaN, delWallS: Number.NaN, errors: 0 }]);
          continue;
        }
        const b = await wb.burst({ label: v.name, version: "", dir: "", thin: "", shim: join(ours.dir, "multus-shim"), daemon: "" }, "kubernetes-thick", "macvlan", 2, pods, daemon);
        sample();
        const row: Row = { name: v.name, what: v.what, idleRss, idleAnon, peakRss: Math.max(peakRss, memoryMiB(daemon.pid, "VmHWM")), peakAnon, addWallS: b.addWallMs / 1000, delWallS: b.delWallMs / 1000, errors: b.errors };
        runs.set(v.name, [...(runs.get(v.name) ?? []), row]);
      } finally {
        clearInterval(sampler);
        await daemon.stop();
      }
    }
  }
  const median = (xs: number[]): number => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length === 0 ? Number.NaN : ((s[Math.floor((s.length - 1) / 2)] ?? 0) + (s[Math.ceil((s.length - 1) / 2)] ?? 0)) / 2;
  };
  for (const v of variants) {
    const rs = runs.get(v.name) ?? [];
    const pick = (f: (r: Row) => number): number => median(rs.map(f));
    rows.push({
      name: v.name, what: v.what,
      idleRss: pick((r) => r.idleRss), idleAnon: pick((r) => r.idleAnon), peakRss: pick((r) => r.peakRss), peakAnon: pick((r) => r.peakAnon),
      addWallS: pick((r) => r.addWallS), delWallS: pick((r) => r.delWallS), errors: rs.reduce((n, r) => n + r.errors, 0),
    });
  }
} finally {
  await bed.close();
  await removeBenchNamespace(ns);
  await releaseCluster();
  await rm(nodeDir, { recursive: true, force: true });
}
const f = (n: number): string => (Number.isFinite(n) ? n.toFixed(1) : "–");
const md = [
  `Run ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC: \`node bench/memory.ts ${process.argv.slice(2).join(" ")}\``.trim(),
  "",
  `Machine: ${machine(serverVersion)}.`,
  "",
  `Each variant: a fresh daemon, idle 2 s, then ${String(burst)} concurrent ADDs and ${String(burst)} concurrent DELs (macvlan × 2); RSS and RssAnon sampled every 50 ms; the median of ${String(repeat)} runs, the variants taking turns. MiB; waves in s.`,
  "",
  "| variant | idle RSS | idle anonymous | peak RSS | peak anonymous | ADD wave | DEL wave | errors |",
  "|---|---|---|---|---|---|---|---|",
  ...rows.map((r) => `| ${r.name}: ${r.what} | ${f(r.idleRss)} | ${f(r.idleAnon)} | ${f(r.peakRss)} | ${f(r.peakAnon)} | ${f(r.addWallS)} | ${f(r.delWallS)} | ${String(r.errors)} |`),
  "",
].join("\n");
await writeFile(join(out, "results.md"), md);
await writeFile(join(out, "results.json"), JSON.stringify(rows, null, 2));
process.stdout.write(md);
log(`written: ${out}/{results.md,results.json}`);
