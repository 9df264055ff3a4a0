// Where one thin CNI call of ours spends its time, phase by phase (docs/performance.md, "Where a thin
// call's time goes"): the shipped dist/bin/multus runs ADD then DEL of fresh pods on the bench's test
// bed (the reference plugins, the real kube-apiserver through the stall-free bridge), each call under
// V8's sampling profiler (NODE_OPTIONS=--cpu-prof, which the SEA honours). Every sample is put in a
// phase by the innermost frame a rule recognises; an idle sample (the process waiting for a plugin or
// an answer) goes to the phase it waits in. Start-up before the profiler runs (exec, the dynamic
// loader, Node's bootstrap) and the exit after it are the call's wall time, seen from the runtime's
// side, less the profile's span. The profiler slows JavaScript by ≈ 10–20 %: the phases' shares are
// what this is for; the bench (run.ts) gives the times. Run as root after `node scripts/build.ts`:
//
//   node bench/profile.ts [--mode kubernetes-thin|config-file] [--scenario macvlan:2] [--rounds 7] [--interval-us 50]
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { applyYaml, kubectl, releaseCluster, startCluster } from "../test/cluster/harness.ts";
import { createKubeBed } from "../test/helpers/kube-bed.ts";
import { repoRoot } from "../test/helpers/run-executable.ts";
import { WARMUP, Workbench, type DelegateKind } from "./lib/scenarios.ts";
import { summarize } from "./lib/stats.ts";

const { values } = parseArgs({
  options: {
    mode: { type: "string", default: "kubernetes-thin" },
    scenario: { type: "string", default: "macvlan:2" },
    rounds: { type: "string", default: "7" },
    "interval-us": { type: "string", default: "50" },
  },
});
if (process.getuid?.() !== 0) throw new Error("the bench creates network namespaces: run it as root");
delete process.env["NODE_EXTRA_CA_CERTS"];
const mode = values.mode;
if (mode !== "kubernetes-thin" && mode !== "config-file") throw new Error("--mode: kubernetes-thin or config-file");
const [kind = "macvlan", nText = "2"] = values.scenario.split(":");
const n = Number(nText);
const rounds = Number(values.rounds);

/** Phases, in the order a call goes through them. */
const PHASES = [
  "start-up and exit (exec, loader, Node bootstrap, exit)",
  "module evaluation",
  "stdin, config, set-up",
  "Kubernetes client: loading it (TLS, HTTP/2)",
  "API: TLS handshake and requests (CPU)",
  "API: waiting for answers",
  "planning and the gate",
  "locks, journal, result cache",
  "delegates: spawning them, reading their results",
  "delegates: the plugins running",
  "garbage collection",
] as const;
type Phase = (typeof PHASES)[number];

/** Innermost frame first: the first rule that names a frame decides the sample's phase. */
const RULES: [RegExp, Phase][] = [
  [/^(runOnce|execPlugin|spawn|#reapAll|onSpawn|onExit|delegateStarted|delegateExited)$/, "delegates: spawning them, reading their results"],
  [/^(#connect|#h2Exchange|#h2Session|#h1Exchange|exchange|#retrying|#send|#open|readAll2|createEvent|patchPodNetworkStatus)$/, "API: TLS handshake and requests (CPU)"],
  [/^src\/k8s\/|^(createPodApi|resolveClientConfig|loadKubeconfig|inClusterConfig|buildConfig)$/, "Kubernetes client: loading it (TLS, HTTP/2)"],
  [/^(forSandbox|acquireFileLock|lockFd|writeFileAtomic|decodeJournal|readCached|decodeCacheEntry|release|locked)$/, "locks, journal, result cache"],
  [/^(planForPod|podPlan|fromNad|fromReference|admitDelegateConfig|restoreDelegateConfig|planTeardown|teardownFor|planFromDelegates|configFilePlan|resolveBaseNetworks)$/, "planning and the gate"],
  [/^(stdin|readAll|parseMultusConfig|setup|parseStdinConfig|createLogger)$/, "stdin, config, set-up"],
  [/^src\/|^node_modules\/|^(embedderRunCjs|compileForInternalLoader|requireBuiltin)$/, "module evaluation"],
];

interface Node {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** Milliseconds per phase of one profile (the first sample's wait is not counted). */
function phasesOf(p: Profile): Map<Phase, number> {
  const byId = new Map(p.nodes.map((x) => [x.id, x]));
  const parent = new Map<number, number>();
  for (const x of p.nodes) for (const c of x.children ?? []) parent.set(c, x.id);
  const cache = new Map<number, Phase | undefined>();
  const classify = (id: number): Phase | undefined => {
    if (cache.has(id)) return cache.get(id);
    let phase: Phase | undefined;
    for (let cur: number | undefined = id; cur !== undefined && phase === undefined; cur = parent.get(cur)) {
      const name = byId.get(cur)?.callFrame.functionName ?? "";
      phase = RULES.find(([re]) => re.test(name))?.[1];
    }
    cache.set(id, phase);
    return phase;
  };
  const out = new Map<Phase, number>();
  let last: Phase = "module evaluation";
  for (let i = 0; i < p.samples.length; i++) {
    const ms = (p.timeDeltas[i + 1] ?? 0) / 1000;
    const x = byId.get(p.samples[i] ?? -1);
    const name = x?.callFrame.functionName ?? "";
    let phase: Phase;
    if (name === "(garbage collector)") phase = "garbage collection";
    else if (name === "(idle)" || name === "(program)" || name === "(root)") {
      // Waiting: for a plugin while delegates run, for an answer while the API is used.
      phase = last === "delegates: spawning them, reading their results" ? "delegates: the plugins running" : last === "API: TLS handshake and requests (CPU)" ? "API: waiting for answers" : last;
    } else {
      phase = classify(x?.id ?? -1) ?? last;
      last = phase;
    }
    out.set(phase, (out.get(phase) ?? 0) + ms);
  }
  return out;
}

const { paths } = await startCluster();
const ns = `bench-prof-${String(process.pid)}`;
await applyYaml(`apiVersion: v1\nkind: Namespace\nmetadata: { name: ${ns} }\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata: { name: default, namespace: ${ns} }\n`);
const bed = await createKubeBed(paths, { mode: "thin" });
const profDir = await mkdtemp(join(tmpdir(), "mt-bench-prof-"));
const perCommand = new Map<string, { wall: number[]; phases: Map<Phase, number[]> }>();
try {
  const wb = new Workbench(bed, ns);
  await wb.prepare(n);
  const pods = await wb.pods(WARMUP + rounds, wb.networks(kind as DelegateKind, n), "p");
  const conf =
    mode === "kubernetes-thin"
      ? bed.conf({ runtimeConfig: { "io.kubernetes.cri.pod-annotations": { "k8s.v1.cni.cncf.io/networks": wb.networks(kind as DelegateKind, n) } } })
      : wb.configFileConf(kind as DelegateKind, n);
  for (const [i, pod] of pods.entries()) {
    for (const command of ["ADD", "DEL"] as const) {
      const dir = join(profDir, `${String(i)}-${command}`);
      const started = performance.now();
      const r = await bed.cni(command, pod, { conf, executable: join(repoRoot, "dist", "bin", "multus"), env: { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${dir} --cpu-prof-interval=${values["interval-us"]}` } });
      const wall = performance.now() - started;
      if (r.code !== 0) throw new Error(`${command} of ${pod.name} exited ${String(r.code)}: ${r.stdout}${r.stderr}`);
      if (i < WARMUP) continue;
      const [file] = await readdir(dir);
      if (file === undefined) throw new Error(`no profile in ${dir}`);
      const prof = JSON.parse(await readFile(join(dir, file), "utf8")) as Profile;
      const phases = phasesOf(prof);
      phases.set(PHASES[0], wall - (prof.endTime - prof.startTime) / 1000);
      const acc = perCommand.get(command) ?? { wall: [], phases: new Map<Phase, number[]>() };
      acc.wall.push(wall);
      for (const ph of PHASES) acc.phases.set(ph, [...(acc.phases.get(ph) ?? []), phases.get(ph) ?? 0]);
      perCommand.set(command, acc);
    }
  }
} finally {
  await bed.close();
  await kubectl(["delete", "pods", "--all", "-n", ns, "--force", "--grace-period=0"]).catch(() => "");
  await kubectl(["delete", "network-attachment-definitions", "--all", "-n", ns]).catch(() => "");
  await kubectl(["delete", "namespace", ns, "--wait=false"]).catch(() => "");
  await releaseCluster();
  await rm(profDir, { recursive: true, force: true });
}
const lines = [
  `\`node bench/profile.ts ${process.argv.slice(2).join(" ")}\`: ${mode}, ${kind} × ${String(n)}, ${String(rounds)} calls of each command after ${String(WARMUP)} warm-up; medians in ms, under the profiler.`,
  "",
  "| phase | ADD | DEL |",
  "|---|---|---|",
];
const median = (xs: number[] | undefined): string => (xs === undefined || xs.length === 0 ? "–" : summarize(xs).p50.toFixed(1));
for (const ph of PHASES) lines.push(`| ${ph} | ${median(perCommand.get("ADD")?.phases.get(ph))} | ${median(perCommand.get("DEL")?.phases.get(ph))} |`);
lines.push(`| **the call, as the runtime sees it** | **${median(perCommand.get("ADD")?.wall)}** | **${median(perCommand.get("DEL")?.wall)}** |`, "");
process.stdout.write(lines.join("\n"));
