// Where one thin CNI call of ours spends its time, phase by phase (docs/performance.md, "Where a thin
// call's time goes"): the shipped dist/bin/multus runs ADD then DEL of fresh pods on the bench's test
// bed (the reference plugins, the real kube-apiserver through the stall-free bridge), with
// `logLevel: debug` on stderr, and the call's own debug lines are read: "operation timing" (the
// process's start-up before the call, the call's phases), "plugin succeeded" (each plugin's own time)
// and "kube request" (each API request). No profiler runs: the figures are the call's real ones, the
// logging included (a few lines per call). Run as root after `node scripts/build.ts`:
//
//   node bench/profile.ts [--mode kubernetes-thin|config-file] [--scenario macvlan:2] [--rounds 11]
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { parseArgs } from "node:util";
import { makeSea } from "../scripts/sea.ts";
import { run } from "../test/helpers/netns.ts";
import { applyYaml, releaseCluster, startCluster } from "../test/cluster/harness.ts";
import { createKubeBed } from "../test/helpers/kube-bed.ts";
import { repoRoot } from "../test/helpers/run-executable.ts";
import { join } from "node:path";
import { removeBenchNamespace, WARMUP, Workbench, type DelegateKind } from "./lib/scenarios.ts";
import { summarize } from "./lib/stats.ts";

const { values } = parseArgs({
  options: {
    mode: { type: "string", default: "kubernetes-thin" },
    scenario: { type: "string", default: "macvlan:2" },
    rounds: { type: "string", default: "11" },
  },
});
if (process.getuid?.() !== 0) throw new Error("the bench creates network namespaces: run it as root");
delete process.env["NODE_EXTRA_CA_CERTS"];
const mode = values.mode;
if (mode !== "kubernetes-thin" && mode !== "config-file") throw new Error("--mode: kubernetes-thin or config-file");
const [kind = "macvlan", nText = "2"] = values.scenario.split(":");
const n = Number(nText);
const rounds = Number(values.rounds);

const ROWS = [
  ["start-up: exec, loader, Node's bootstrap, module evaluation, stdin", "startup"],
  ["readiness indicator", "readiness"],
  ["the Kubernetes client: loading it, reading the kubeconfig", "client"],
  ["the pod's annotations (runtimeConfig, else the API)", "api"],
  ["planning: NADs looked up (API), the gate; DEL: the journal read", "plan"],
  ["locks", "lock"],
  ["delegates: the plugins themselves", "plugins"],
  ["delegates: our work around them (spawn, results, journal, result cache)", "around"],
  ["network-status patch and events", "status"],
  ["the rest of the call (lock release, log lines)", "rest"],
  ["exit, after the call", "exit"],
] as const;
type Key = (typeof ROWS)[number][1];

interface TimingLine {
  msg?: string;
  command?: string;
  totalMs?: number;
  startupMs?: number;
  phasesMs?: Record<string, number>;
  ms?: number;
  durationMs?: number;
}

function parse(stderr: string): TimingLine[] {
  return stderr
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => {
      try {
        return JSON.parse(l) as TimingLine;
      } catch {
        return {};
      }
    });
}

const { paths } = await startCluster();
const ns = `bench-prof-${String(process.pid)}`;
await applyYaml(`apiVersion: v1\nkind: Namespace\nmetadata: { name: ${ns} }\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata: { name: default, namespace: ${ns} }\n`);
const bed = await createKubeBed(paths, { mode: "thin" });
const acc = new Map<string, { wall: number[]; requests: number[]; requestMs: number[]; rows: Map<Key, number[]> }>();
/** What the same harness (ip netns exec, as the bench execs every call) takes to run /bin/true and an empty Node SEA. */
const reference = new Map<string, number[]>();
try {
  const wb = new Workbench(bed, ns);
  await wb.prepare(n);
  const pods = await wb.pods(WARMUP + rounds, wb.networks(kind as DelegateKind, n), "p");
  const debug = { logLevel: "debug", logToStderr: true };
  const conf =
    mode === "kubernetes-thin"
      ? bed.conf({ ...debug, runtimeConfig: { "io.kubernetes.cri.pod-annotations": { "k8s.v1.cni.cncf.io/networks": wb.networks(kind as DelegateKind, n) } } })
      : JSON.stringify({ ...(JSON.parse(wb.configFileConf(kind as DelegateKind, n)) as object), ...debug });
  for (const [i, pod] of pods.entries()) {
    for (const command of ["ADD", "DEL"] as const) {
      const started = performance.now();
      const r = await bed.cni(command, pod, { conf, executable: join(repoRoot, "dist", "bin", "multus") });
      const wall = performance.now() - started;
      if (r.code !== 0) throw new Error(`${command} of ${pod.name} exited ${String(r.code)}: ${r.stdout}${r.stderr}`);
      if (i < WARMUP) continue;
      const lines = parse(r.stderr);
      const timing = lines.find((l) => l.msg === "operation timing");
      if (timing?.totalMs === undefined || timing.startupMs === undefined) throw new Error(`${command} of ${pod.name}: no "operation timing" line in its stderr`);
      const phases = timing.phasesMs ?? {};
      const plugins = lines.filter((l) => l.msg === "plugin succeeded").reduce((s, l) => s + (l.ms ?? 0), 0);
      const requests = lines.filter((l) => l.msg === "kube request");
      const got: Record<Key, number> = {
        startup: timing.startupMs,
        readiness: phases["readiness"] ?? 0,
        client: phases["client"] ?? 0,
        api: phases["api"] ?? 0,
        plan: phases["plan"] ?? 0,
        lock: phases["lock"] ?? 0,
        plugins,
        around: (phases["delegates"] ?? 0) - plugins,
        status: (phases["status"] ?? 0) + (phases["route"] ?? 0),
        rest: timing.totalMs - Object.values(phases).reduce((s, v) => s + v, 0),
        exit: wall - timing.startupMs - timing.totalMs,
      };
      const a = acc.get(command) ?? { wall: [], requests: [], requestMs: [], rows: new Map<Key, number[]>() };
      acc.set(command, a);
      a.wall.push(wall);
      a.requests.push(requests.length);
      a.requestMs.push(requests.reduce((s, l) => s + (l.durationMs ?? 0), 0));
      for (const [, key] of ROWS) a.rows.set(key, [...(a.rows.get(key) ?? []), got[key]]);
    }
  }
  // References through the same harness: the floor any process, and any Node SEA, pays here.
  const workDir = await mkdtemp(join(tmpdir(), "mt-bench-prof-"));
  try {
    const empty = join(workDir, "empty-sea");
    await writeFile(`${empty}.cjs`, "process.exitCode = 0;\n");
    makeSea(`${empty}.cjs`, empty, workDir);
    for (let i = 0; i < 23; i++) {
      for (const [label, exe] of [["/bin/true", "/bin/true"], ["an empty Node SEA", empty]] as const) {
        const started = performance.now();
        await run(["ip", "netns", "exec", bed.node.name, exe]);
        if (i >= 3) reference.set(label, [...(reference.get(label) ?? []), performance.now() - started]);
      }
    }
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
} finally {
  await bed.close();
  await removeBenchNamespace(ns);
  await releaseCluster();
}
const median = (xs: number[] | undefined): string => (xs === undefined || xs.length === 0 ? "–" : summarize(xs).p50.toFixed(1));
const out = [
  `\`node bench/profile.ts ${process.argv.slice(2).join(" ")}\`: ${mode}, ${kind} × ${String(n)}, ${String(rounds)} calls of each command after ${String(WARMUP)} warm-up; medians in ms (each row its own median: they need not add up exactly).`,
  "",
  "| phase | ADD | DEL |",
  "|---|---|---|",
  ...ROWS.map(([label, key]) => `| ${label} | ${median(acc.get("ADD")?.rows.get(key))} | ${median(acc.get("DEL")?.rows.get(key))} |`),
  `| **the call, as the runtime sees it** | **${median(acc.get("ADD")?.wall)}** | **${median(acc.get("DEL")?.wall)}** |`,
  `| API requests (how many; their time, inside the phases above) | ${median(acc.get("ADD")?.requests)}; ${median(acc.get("ADD")?.requestMs)} | ${median(acc.get("DEL")?.requests)}; ${median(acc.get("DEL")?.requestMs)} |`,
  "",
  `Through the same harness (ip netns exec into the node namespace, as every call above): /bin/true ${median(reference.get("/bin/true"))} ms, an empty Node SEA (made as scripts/build.ts makes ours) ${median(reference.get("an empty Node SEA"))} ms.`,
  "",
];
process.stdout.write(out.join("\n"));
