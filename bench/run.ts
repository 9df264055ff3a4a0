// The benchmark: every Multus-compatible implementation named runs the identical scenarios on one
// test bed, side by side, in one run (docs/performance.md). Real parts: the reference CNI plugins in
// throw-away network namespaces, the kube-apiserver + etcd of test/cluster (started or reused), pods
// as real API objects, each implementation's own executables and daemon. Nothing is asserted: this
// is a measurement, never a test. Run as root after `node scripts/build.ts`:
//
//   node bench/run.ts [--impl ours,upstream] [--modes config-file,kubernetes-thin,kubernetes-thick]
//                     [--delegates bridge,macvlan] [--secondaries 1,2,4] [--rounds 21]
//                     [--bursts 8,32,64] [--burst-scenario macvlan:2]
//                     [--delays 0,2,10,30] [--curve-scenario macvlan:2] [--curve-rounds 11]
//                     [--out bench/out/<time>]
//
// The API path: the node namespace reaches kube-apiserver through test/helpers/api-bridge.ts, which
// adds no stall (TCP_NODELAY on every leg) — checked at the start of every run and printed with the
// results (bench/lib/api-path.ts). `--delays`: the bridge then holds every byte that many ms in each
// direction (a new connection's handshake another round trip), and every mode of `--curve-scenario`
// runs again at each delay, for the latency curve; the full grid runs at delay 0.
//
// `--impl upstream` builds upstream Multus v4.3.0 from the Go module proxy once (the optional step:
// test/helpers/upstream-build.ts, ≈ 20 s; cached in ~/.cache/multus-ts/). `--impl <label>=<dir>`
// compares any directory holding multus, multus-shim and multus-daemon. Output: results.md (the
// tables and ratios), results.json, chart.svg and chart.png in the output directory; the tables are
// also printed. NODE_EXTRA_CA_CERTS is unset for every implementation's process.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { applyYaml, kubectl, releaseCluster, startCluster } from "../test/cluster/harness.ts";
import { createKubeBed, type TestPod } from "../test/helpers/kube-bed.ts";
import { repoRoot } from "../test/helpers/run-executable.ts";
import { setTimeout as sleep } from "node:timers/promises";
import { checkApiPath } from "./lib/api-path.ts";
import { startBenchDaemon, type BenchDaemon } from "./lib/daemon.ts";
import { resolveImplementations, type Implementation } from "./lib/implementations.ts";
import { chartSvg, markdown, writePng, type CurvePoint, type RunResults } from "./lib/report.ts";
import { startupCosts } from "./lib/startup.ts";
import { mergeSamples, removeBenchNamespace, rowsOf, WARMUP, Workbench, type Case, type DelegateKind, type FloorResult, type Mode, type Samples, type SequentialResult } from "./lib/scenarios.ts";
import { machine, memoryMiB } from "./lib/system.ts";

const { values } = parseArgs({
  options: {
    impl: { type: "string", default: "ours,upstream" },
    modes: { type: "string", default: "config-file,kubernetes-thin,kubernetes-thick" },
    delegates: { type: "string", default: "bridge,macvlan" },
    secondaries: { type: "string", default: "1,2,4" },
    rounds: { type: "string", default: "21" },
    bursts: { type: "string", default: "8,32,64" },
    "burst-scenario": { type: "string", default: "macvlan:2" },
    delays: { type: "string", default: "0,2,10,30" },
    "curve-scenario": { type: "string", default: "macvlan:2" },
    "curve-rounds": { type: "string", default: "11" },
    out: { type: "string" },
  },
});
const list = (s: string | undefined): string[] => (s ?? "").split(",").map((x) => x.trim()).filter((x) => x !== "");
const modes = list(values.modes) as Mode[];
const kinds = list(values.delegates) as DelegateKind[];
const secondaries = list(values.secondaries).map(Number);
const rounds = Number(values.rounds);
const burstSizes = list(values.bursts).map(Number);
/** Rounds of fresh pods each Kubernetes-mode row's API requests are counted over. */
const API_PODS = 5;
/** Thick-mode rounds come in this many blocks, the implementations taking turns. */
const THICK_BLOCKS = 3;
const [burstKind = "macvlan", burstN = "2"] = values["burst-scenario"].split(":");
const delays = list(values.delays).map(Number);
const [curveKind = "macvlan", curveN = "2"] = values["curve-scenario"].split(":");
const curveRounds = Number(values["curve-rounds"]);
for (const d of delays) if (!Number.isFinite(d) || d < 0) throw new Error(`--delays: ${String(d)} is not a delay in ms`);
for (const m of modes) if (!["config-file", "kubernetes-thin", "kubernetes-thick"].includes(m)) throw new Error(`--modes: unknown mode ${m}`);
for (const k of [...kinds, burstKind, curveKind]) if (k !== "bridge" && k !== "macvlan") throw new Error(`--delegates: unknown delegate ${k} (bridge or macvlan)`);
if (process.getuid?.() !== 0) throw new Error("the bench creates network namespaces: run it as root");
delete process.env["NODE_EXTRA_CA_CERTS"];

// The chart's text needs a font; Debian's fonts-dejavu-core is the one the SVG names.
if (!existsSync("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")) execFileSync("apt-get", ["install", "-y", "--no-install-recommends", "fonts-dejavu-core"], { stdio: "inherit" });

const impls = resolveImplementations(list(values.impl));
const started = new Date();
const out = values.out ?? join(repoRoot, "bench", "out", started.toISOString().replace(/[:.]/g, "-"));
await mkdir(out, { recursive: true });

const log = (line: string): void => {
  process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
};
// First, on the idle machine: what starting a process costs.
log("start-up costs");
const startup = await startupCosts(impls, 40);
const { paths } = await startCluster();
const ns = `bench-${String(process.pid)}`;
await applyYaml(`apiVersion: v1\nkind: Namespace\nmetadata: { name: ${ns} }\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata: { name: default, namespace: ${ns} }\n`);
const bed = await createKubeBed(paths, { mode: "thin" });
const serverVersion = (JSON.parse(await kubectl(["version", "-o", "json"])) as { serverVersion?: { gitVersion?: string } }).serverVersion?.gitVersion ?? "unknown";
// Before anything is measured through it: the bridge must add nothing a real node's API path would not.
const apiPath = await checkApiPath(bed);
log(`API path: a fresh-TLS GET takes ${apiPath.bridgeMs.toFixed(1)} ms through the bridge, ${apiPath.directMs.toFixed(1)} ms directly (p50 of ${String(apiPath.rounds)}): the bridge adds ${apiPath.addedMs.toFixed(1)} ms`);
if (apiPath.addedMs > 2) log("WARNING: the API bridge adds more than 2 ms to a request: figures of this run are inflated (docs/performance.md, \"The API path\")");
const results: RunResults = {
  meta: {
    date: started.toISOString().slice(0, 16).replace("T", " ") + " UTC",
    command: `node bench/run.ts ${process.argv.slice(2).join(" ")}`.trim(),
    machine: machine(serverVersion),
    loadAfter: "",
    rounds,
    implementations: impls.map((i) => ({ label: i.label, version: i.version, dir: i.dir })),
  },
  startup,
  apiPath,
  floors: [],
  sequential: [],
  bursts: [],
  daemons: [],
  curve: [],
};
const startThickDaemon = (impl: Implementation): Promise<BenchDaemon> => startBenchDaemon({ executable: impl.daemon, label: impl.label, cluster: paths, nodeNs: bed.node.name, state: bed.state, confDir: bed.confDir });
try {
  const wb = new Workbench(bed, ns);
  await wb.prepare(Math.max(...secondaries, Number(burstN)));
  const thinModes = modes.filter((m) => m !== "kubernetes-thick");
  const key = (kind: DelegateKind, n: number): string => `${kind}-${String(n)}`;
  // A pod of its own for every round (as every sandbox on a real node), shared by the cases of the round.
  const roundPods = new Map<string, TestPod[]>();
  for (const kind of kinds) for (const n of secondaries) roundPods.set(key(kind, n), await wb.pods(WARMUP + rounds, wb.networks(kind, n), `r-${key(kind, n)}`));
  const podsFor = (kind: DelegateKind, n: number): TestPod[] => roundPods.get(key(kind, n)) ?? [];
  let apiSeq = 0;
  /** API requests per pod, for each Kubernetes-mode row, from a block of fresh pods of its own. */
  const countApi = async (rows: SequentialResult[], cases: readonly Case[], kind: DelegateKind, n: number): Promise<void> => {
    for (const c of cases) {
      if (c.impl === undefined || c.mode === "config-file") continue;
      const row = rows.find((r) => r.impl === c.impl.label && r.mode === c.mode);
      if (row === undefined) continue;
      const api = await wb.countApiRequests(c, kind, n, await wb.pods(API_PODS, wb.networks(kind, n), `a${String(++apiSeq)}-${key(kind, n)}`));
      row.apiPerPod = api.perPod;
      row.apiKinds = api.kinds;
    }
  };
  const burstPods = burstSizes.length === 0 ? [] : await wb.pods(Math.max(...burstSizes), wb.networks(burstKind as DelegateKind, Number(burstN)), "burst");

  // Thin modes: every round runs the floor and each implementation in each mode, in turn.
  if (thinModes.length > 0) {
    for (const kind of kinds) {
      for (const n of secondaries) {
        log(`thin: floor and ${thinModes.join(", ")} for ${impls.map((i) => i.label).join(", ")}, ${kind} × ${String(n)}`);
        const cases: Case[] = [{}, ...thinModes.flatMap((mode) => impls.map((impl) => ({ impl, mode })))];
        const { floor, rows } = await wb.compare(kind, n, cases, podsFor(kind, n), rounds);
        if (floor !== undefined) results.floors.push({ ...floor, phase: "thin" });
        await countApi(rows, cases, kind, n);
        results.sequential.push(...rows);
      }
    }
    for (const mode of thinModes) {
      for (const size of burstSizes) {
        for (const impl of impls) {
          log(`${impl.label} ${mode} burst of ${String(size)}`);
          results.bursts.push(await wb.burst(impl, mode, burstKind as DelegateKind, Number(burstN), burstPods.slice(0, size)));
        }
      }
    }
  }
  if (modes.includes("kubernetes-thick")) {
    const apiOf = new Map<string, { perPod: number; kinds: Map<string, number> }>();
    const start = startThickDaemon;
    // Sequential rounds: one daemon on the node at a time, as in production (a second daemon would
    // parse the watch event of every status patch, and take CPU from the one measured). Against
    // drift, the rounds are split into THICK_BLOCKS blocks, and the implementations take turns block
    // by block, in alternating order; every block starts with its own warm-up rounds.
    const perBlock = Math.ceil(rounds / THICK_BLOCKS);
    const merged = new Map<string, Samples>();
    for (let b = 0; b < THICK_BLOCKS; b++) {
      const order = b % 2 === 0 ? impls : [...impls].reverse();
      for (const impl of order) {
        log(`${impl.label} daemon, thick block ${String(b + 1)} of ${String(THICK_BLOCKS)}`);
        const daemon = await start(impl);
        try {
          await sleep(2000);
          if (b === 0) results.daemons.push({ impl: impl.label, idleRssMiB: memoryMiB(daemon.pid, "VmRSS"), idleAnonMiB: memoryMiB(daemon.pid, "RssAnon"), peakRssMiB: Number.NaN, peakAnonMiB: Number.NaN });
          for (const kind of kinds) {
            for (const n of secondaries) {
              const pods = podsFor(kind, n);
              const counted = pods.slice(WARMUP + b * perBlock, WARMUP + Math.min(rounds, (b + 1) * perBlock));
              // The floor runs in the same rounds, so thick overhead is against a floor of its phase.
              const cases: Case[] = [{}, { impl, mode: "kubernetes-thick", daemon }];
              const [floorGot, got] = await wb.sample(kind, n, cases, [...pods.slice(0, WARMUP), ...counted], `t${String(b)}${impl.label.replace(/[^A-Za-z0-9]/g, "")}`);
              if (floorGot === undefined || got === undefined) continue;
              for (const [k, v] of [[`${impl.label}|${key(kind, n)}`, got], [`floor|${key(kind, n)}`, floorGot]] as const) {
                const before = merged.get(k);
                merged.set(k, before === undefined ? v : mergeSamples(before, v));
              }
              // API requests: once, in the implementation's last block.
              if (b === THICK_BLOCKS - 1) {
                const api = await wb.countApiRequests({ impl, mode: "kubernetes-thick", daemon }, kind, n, await wb.pods(API_PODS, wb.networks(kind, n), `a${String(++apiSeq)}-${key(kind, n)}`));
                apiOf.set(`${impl.label}|${key(kind, n)}`, api);
              }
            }
          }
        } finally {
          await daemon.stop();
        }
      }
    }
    for (const kind of kinds) {
      for (const n of secondaries) {
        log(`thick: ${impls.map((i) => i.label).join(", ")}, ${kind} × ${String(n)}: ${String(THICK_BLOCKS)} blocks merged`);
        const cases: Case[] = impls.map((impl) => ({ impl, mode: "kubernetes-thick" }));
        const samples = impls.map((impl) => merged.get(`${impl.label}|${key(kind, n)}`) ?? { add: [], del: [], errors: 0, cpu: 0, daemonCpu: 0, rounds: 0 });
        const { rows } = rowsOf(kind, n, cases, samples);
        const floorSamples = merged.get(`floor|${key(kind, n)}`);
        const thickFloor = floorSamples === undefined ? undefined : rowsOf(kind, n, [{}], [floorSamples]).floor;
        if (thickFloor !== undefined) results.floors.push({ ...thickFloor, phase: "thick" });
        for (const row of rows) {
          const api = apiOf.get(`${row.impl}|${key(kind, n)}`);
          if (api !== undefined) {
            row.apiPerPod = api.perPod;
            row.apiKinds = api.kinds;
          }
        }
        results.sequential.push(...rows);
      }
    }
    // Bursts: one daemon at a time, fresh, so that its peak memory is its own burst's.
    for (const impl of impls) {
      const daemon = await start(impl);
      const row = results.daemons.find((d) => d.impl === impl.label);
      let peakAnon = 0;
      const sampler = setInterval(() => {
        try {
          peakAnon = Math.max(peakAnon, memoryMiB(daemon.pid, "RssAnon"));
        } catch {
          // The daemon is gone: its burst reports the errors.
        }
      }, 50);
      try {
        for (const size of burstSizes) {
          log(`${impl.label} kubernetes-thick burst of ${String(size)}`);
          results.bursts.push(await wb.burst(impl, "kubernetes-thick", burstKind as DelegateKind, Number(burstN), burstPods.slice(0, size), daemon));
        }
        if (row !== undefined && burstSizes.length > 0) {
          row.peakRssMiB = memoryMiB(daemon.pid, "VmHWM");
          row.peakAnonMiB = peakAnon;
        }
      } finally {
        clearInterval(sampler);
        await daemon.stop();
      }
    }
  }
  // The latency curve: every mode of the curve scenario at each delay of the API path. Delay 0 is the
  // grid's own row where the grid has that scenario.
  const curveKey = key(curveKind as DelegateKind, Number(curveN));
  let curveSeq = 0;
  const point = (delayMs: number, row: SequentialResult, floor: FloorResult | undefined): CurvePoint => ({
    delayMs, impl: row.impl, mode: row.mode, add: row.add, del: row.del, floorAdd: floor?.add.p50 ?? Number.NaN, floorDel: floor?.del.p50 ?? Number.NaN, errors: row.errors,
  });
  for (const delayMs of delays) {
    const fromGrid = delayMs === 0 && kinds.includes(curveKind as DelegateKind) && secondaries.includes(Number(curveN));
    if (fromGrid) {
      for (const row of results.sequential.filter((r) => key(r.kind, r.secondaries) === curveKey)) {
        const floor = results.floors.find((f) => key(f.kind, f.secondaries) === curveKey && f.phase === (row.mode === "kubernetes-thick" ? "thick" : "thin"));
        results.curve.push(point(0, row, floor));
      }
      continue;
    }
    bed.api.setDelay(delayMs);
    try {
      const thin = modes.filter((m) => m !== "kubernetes-thick");
      if (thin.length > 0) {
        log(`curve: ${String(delayMs)} ms per direction, ${thin.join(", ")}, ${curveKind} × ${curveN}`);
        const cases: Case[] = [{}, ...thin.flatMap((mode) => impls.map((impl) => ({ impl, mode })))];
        const pods = await wb.pods(WARMUP + curveRounds, wb.networks(curveKind as DelegateKind, Number(curveN)), `c${String(++curveSeq)}-${curveKey}`);
        const { floor, rows } = await wb.compare(curveKind as DelegateKind, Number(curveN), cases, pods, curveRounds);
        for (const row of rows) results.curve.push(point(delayMs, row, floor));
      }
      if (modes.includes("kubernetes-thick")) {
        for (const impl of impls) {
          log(`curve: ${String(delayMs)} ms per direction, ${impl.label} thick, ${curveKind} × ${curveN}`);
          const daemon = await startThickDaemon(impl);
          try {
            await sleep(2000);
            const pods = await wb.pods(WARMUP + curveRounds, wb.networks(curveKind as DelegateKind, Number(curveN)), `c${String(++curveSeq)}-${curveKey}`);
            const cases: Case[] = [{}, { impl, mode: "kubernetes-thick", daemon }];
            const { floor, rows } = rowsOf(curveKind as DelegateKind, Number(curveN), cases, await wb.sample(curveKind as DelegateKind, Number(curveN), cases, pods, `cv${String(curveSeq)}`));
            for (const row of rows) results.curve.push(point(delayMs, row, floor));
          } finally {
            await daemon.stop();
          }
        }
      }
    } finally {
      bed.api.setDelay(0);
    }
  }
} finally {
  await bed.close();
  await removeBenchNamespace(ns);
  await releaseCluster();
}
results.meta.loadAfter = machine(serverVersion).split(", ").find((p) => p.startsWith("load")) ?? "";
// Stable ordering for the tables: mode, delegate, secondaries, then implementation.
const modeOrder = (m: Mode): number => ["config-file", "kubernetes-thin", "kubernetes-thick"].indexOf(m);
results.sequential.sort((a, b) => modeOrder(a.mode) - modeOrder(b.mode) || a.kind.localeCompare(b.kind) || a.secondaries - b.secondaries || impls.findIndex((i) => i.label === a.impl) - impls.findIndex((i) => i.label === b.impl));
results.bursts.sort((a, b) => modeOrder(a.mode) - modeOrder(b.mode) || a.size - b.size || impls.findIndex((i) => i.label === a.impl) - impls.findIndex((i) => i.label === b.impl));
const md = markdown(results);
const svg = chartSvg(results);
await writeFile(join(out, "results.md"), md);
await writeFile(join(out, "results.json"), JSON.stringify(results, (_k, v: unknown): unknown => (v instanceof Map ? (Object.fromEntries(v) as unknown) : v), 2));
await writeFile(join(out, "chart.svg"), svg);
await writePng(svg, join(out, "chart.png"));
process.stdout.write(md);
log(`written: ${out}/{results.md,results.json,chart.svg,chart.png}`);
