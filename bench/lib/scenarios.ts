// The scenarios, run identically for every implementation on one test bed (test/helpers/kube-bed.ts:
// a throw-away node network namespace with the real reference plugins and a `lan0` for macvlan, the
// real kube-apiserver of test/cluster, pods as real API objects, one network namespace per sandbox).
// Calls are made as containerd makes them: CNI_* env and CNI_ARGS with the pod's name and UID, and in
// Kubernetes mode the pod's annotations in runtimeConfig (its pod-annotations capability).
//
// Exported API:
//   type Mode = "config-file" | "kubernetes-thin" | "kubernetes-thick"; type DelegateKind = "bridge" | "macvlan"
//   class Workbench(bed, namespace)
//     prepare(maxSecondaries)                         the NADs bridge-1..N and macvlan-1..N
//     configFileConf(kind, n)                         config-file mode's Multus config
//     pods(count, networks, prefix): TestPod[]        real pod objects (one apply) with sandboxes
//     compare(kind, n, cases, pods, rounds)          sequential rounds, every case in turn each round;
//                                                     the floor is the same delegates exec'd directly
//     sample(kind, n, cases, pods, tag): Samples[]    the same, raw (blocks merged with mergeSamples)
//   rowsOf(kind, n, cases, samples), mergeSamples(a, b)
//     countApiRequests(case, kind, n, pods)           API requests per ADD+DEL, block-wise
//     burst(impl, mode, kind, n, pods, daemon?): BurstResult
//     networks(kind, n): string                       the networks annotation ("macvlan-1,macvlan-2")
//   removeBenchNamespace(ns)                          force-deletes its pods and NADs, then the namespace
import { readFile, writeFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { join } from "node:path";
import { applyYaml, kubectl } from "../../test/cluster/harness.ts";
import { nadYaml, REF_PLUGINS, type KubeBed, type TestPod } from "../../test/helpers/kube-bed.ts";
import { run } from "../../test/helpers/netns.ts";
import type { BenchDaemon } from "./daemon.ts";
import type { Implementation } from "./implementations.ts";
import { summarize, type Summary } from "./stats.ts";
import { apiRequests, cpuMs, diffCounts, ownCpuMs } from "./system.ts";

export type Mode = "config-file" | "kubernetes-thin" | "kubernetes-thick";
export type DelegateKind = "bridge" | "macvlan";

export interface FloorResult {
  /** The phase a floor was measured in (thin rounds, or the thick blocks); rows use their own. */
  phase?: "thin" | "thick";
  kind: DelegateKind;
  secondaries: number;
  add: Summary;
  del: Summary;
  /** CPU of every process of one ADD+DEL (ms). */
  cpuPerPod: number;
  errors: number;
  firstError?: string;
}

export interface SequentialResult extends FloorResult {
  impl: string;
  mode: Mode;
  /** Thick: the daemon's own CPU (its threads, not the plugins it runs) per ADD+DEL (ms). */
  daemonCpuPerPod?: number;
  /** API requests per ADD+DEL (Kubernetes modes), and which. */
  apiPerPod?: number;
  apiKinds?: Map<string, number>;
}

export interface BurstResult {
  impl: string;
  mode: Mode;
  kind: DelegateKind;
  secondaries: number;
  size: number;
  addWallMs: number;
  delWallMs: number;
  add: Summary;
  del: Summary;
  errors: number;
  firstError?: string;
}

export const WARMUP = 2;

/** One thing a round runs: the floor (no implementation), or an implementation in a mode. */
export type Case = { impl?: undefined; mode?: undefined; daemon?: undefined } | { impl: Implementation; mode: Mode; daemon?: BenchDaemon };
let seq = 0;

export class Workbench {
  readonly #bed: KubeBed;
  readonly #ns: string;
  #clusterConf: Record<string, unknown> | undefined;

  constructor(bed: KubeBed, namespace: string) {
    this.#bed = bed;
    this.#ns = namespace;
  }

  /** The secondary network `i` of a kind: a bridge of its own, or macvlan on the node's lan0. */
  #secondary(kind: DelegateKind, i: number): Record<string, unknown> {
    const ipam = { type: "host-local", subnet: `10.${kind === "bridge" ? "4" : "5"}${String(i)}.0.0/16`, dataDir: this.#bed.ipamDir };
    return kind === "bridge"
      ? { cniVersion: "1.0.0", name: `bridge-${String(i)}`, type: "bridge", bridge: `mtb-s${String(i)}`, ipam }
      : { cniVersion: "1.0.0", name: `macvlan-${String(i)}`, type: "macvlan", master: "lan0", mode: "bridge", ipam };
  }

  networks(kind: DelegateKind, n: number): string {
    return Array.from({ length: n }, (_, i) => `${kind}-${String(i + 1)}`).join(",");
  }

  async prepare(maxSecondaries: number): Promise<void> {
    const docs: string[] = [];
    for (const kind of ["bridge", "macvlan"] as const) for (let i = 1; i <= maxSecondaries; i++) docs.push(nadYaml(this.#ns, `${kind}-${String(i)}`, this.#secondary(kind, i)));
    await applyYaml(docs.join("\n---\n"));
    this.#clusterConf = JSON.parse(await readFile(join(this.#bed.confDir, "10-cluster.conf"), "utf8")) as Record<string, unknown>;
  }

  async pods(count: number, networks: string, prefix: string): Promise<TestPod[]> {
    const names = Array.from({ length: count }, (_, i) => `${prefix}-${String(i)}`);
    const annotations = JSON.stringify({ "k8s.v1.cni.cncf.io/networks": networks });
    await applyYaml(
      names
        .map((name) => `apiVersion: v1\nkind: Pod\nmetadata: { name: ${name}, namespace: ${this.#ns}, annotations: ${annotations} }\nspec:\n  nodeName: mt-node\n  containers: [{ name: c, image: busybox }]\n`)
        .join("---\n"),
    );
    const list = JSON.parse(await kubectl(["get", "pods", "-n", this.#ns, "-o", "json"])) as { items: { metadata: { name: string; uid: string } }[] };
    const uid = new Map(list.items.map((p) => [p.metadata.name, p.metadata.uid]));
    const out: TestPod[] = [];
    for (const name of names) out.push(await this.#bed.sandbox(this.#ns, name, uid.get(name) ?? ""));
    return out;
  }

  /** Config-file mode's Multus config: the cluster network and the secondaries as `delegates`. */
  configFileConf(kind: DelegateKind, n: number): string {
    const delegates = [this.#clusterConf, ...Array.from({ length: n }, (_, i) => this.#secondary(kind, i + 1))];
    return JSON.stringify({ cniVersion: "1.0.0", name: "multus-cni-network", type: "multus", cniDir: this.#bed.cniDir, binDir: REF_PLUGINS, delegates });
  }

  /** The config the runtime hands the implementation. */
  #conf(impl: Implementation, mode: Mode, kind: DelegateKind, n: number, daemon?: BenchDaemon): string {
    const bed = this.#bed;
    if (mode === "config-file") return this.configFileConf(kind, n);
    const runtimeConfig = { "io.kubernetes.cri.pod-annotations": { "k8s.v1.cni.cncf.io/networks": this.networks(kind, n) } };
    if (mode === "kubernetes-thin") return bed.conf({ runtimeConfig });
    if (daemon === undefined) throw new Error(`${impl.label}: thick mode without a daemon`);
    return bed.conf({ runtimeConfig, type: "multus-shim", daemonSocketDir: daemon.socketDir });
  }

  async #call(executable: string, command: string, pod: TestPod, conf: string): Promise<{ ms: number; error?: string }> {
    const started = performance.now();
    const r = await this.#bed.cni(command, pod, { conf, executable, timeoutMs: 180_000 });
    const elapsed = performance.now() - started;
    return r.code === 0 ? { ms: elapsed } : { ms: elapsed, error: `${command} of ${pod.name} exited ${String(r.code)}: ${(r.stdout + r.stderr).trim().slice(0, 300)}` };
  }

  /** The floor's ADD and DEL scripts: one process in the node namespace runs the delegates in turn, as Multus does (DEL in reverse). */
  async #floorScripts(kind: DelegateKind, n: number): Promise<Record<"ADD" | "DEL", string>> {
    const dir = join(this.#bed.state, `floor-${kind}-${String(n)}`);
    await run(["mkdir", "-p", dir]);
    const confs = [this.#clusterConf, ...Array.from({ length: n }, (_, i) => this.#secondary(kind, i + 1))];
    const lines: string[] = [];
    for (const [i, c] of confs.entries()) {
      await writeFile(join(dir, `${String(i)}.json`), JSON.stringify(c));
      lines.push(`CNI_IFNAME=${i === 0 ? "eth0" : `net${String(i)}`} ${REF_PLUGINS}/${String(c?.["type"])} < ${dir}/${String(i)}.json > /dev/null`);
    }
    return { ADD: ["set -e", ...lines].join("\n"), DEL: ["set -e", ...[...lines].reverse()].join("\n") };
  }

  async #floorCall(script: string, command: string, pod: TestPod): Promise<{ ms: number; error?: string }> {
    const started = performance.now();
    const r = await run(["ip", "netns", "exec", this.#bed.node.name, "sh", "-c", script], {
      allowFail: true,
      env: { PATH: process.env["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin", CNI_COMMAND: command, CNI_CONTAINERID: pod.containerId, CNI_NETNS: pod.netns.path, CNI_PATH: REF_PLUGINS },
    });
    const elapsed = performance.now() - started;
    return r.code === 0 ? { ms: elapsed } : { ms: elapsed, error: `floor ${command}: ${r.stderr.trim().slice(0, 300)}` };
  }

  /**
   * Sequential rounds of one scenario (delegate kind × n), every case in each round in turn (the
   * floor, then each implementation and mode), so that a drifting load falls on all of them alike.
   * Each round has a pod of its own (`pods[i]`, a real API object, as every sandbox of a real node
   * is); each case ADDs then DELs it under a container ID of its own. The first WARMUP rounds warm
   * caches and are not counted. CPU: this process's reaped children (the runtime's exec tree) per
   * call window, plus each daemon's own CPU over the whole block, divided among its rounds.
   */
  async compare(kind: DelegateKind, n: number, cases: readonly Case[], pods: readonly TestPod[], rounds: number): Promise<{ floor?: FloorResult; rows: SequentialResult[] }> {
    if (pods.length < WARMUP + rounds) throw new Error(`compare: ${String(WARMUP + rounds)} pods needed`);
    return rowsOf(kind, n, cases, await this.sample(kind, n, cases, pods.slice(0, WARMUP + rounds), ""));
  }

  /**
   * The raw samples of `compare`: the first WARMUP pods warm up, every further pod is one counted
   * round. `tag` keeps container IDs apart when the same pods serve several calls.
   */
  async sample(kind: DelegateKind, n: number, cases: readonly Case[], pods: readonly TestPod[], tag: string): Promise<Samples[]> {
    const floor = await this.#floorScripts(kind, n);
    const acc: Samples[] = cases.map(() => ({ add: [], del: [], errors: 0, cpu: 0, daemonCpu: 0, rounds: 0 }));
    const daemonCpu = (c: Case): number => (c.daemon === undefined ? 0 : cpuMs(c.daemon.pid));
    const daemonOwn = (c: Case): number => (c.daemon === undefined ? 0 : ownCpuMs(c.daemon.pid));
    let daemonBefore: number[] = cases.map(daemonCpu);
    let ownBefore: number[] = cases.map(daemonOwn);
    for (const [i, pod] of pods.entries()) {
      if (i === WARMUP) {
        daemonBefore = cases.map(daemonCpu);
        ownBefore = cases.map(daemonOwn);
      }
      for (const [ci, c] of cases.entries()) {
        const a = acc[ci];
        if (a === undefined) continue;
        const p = { ...pod, containerId: `${pod.containerId}${tag}c${String(ci)}` };
        const conf = c.impl === undefined ? "" : this.#conf(c.impl, c.mode, kind, n, c.daemon);
        const executable = c.impl === undefined ? "" : c.mode === "kubernetes-thick" ? c.impl.shim : c.impl.thin;
        const cpuBefore = cpuMs("self-children");
        for (const command of ["ADD", "DEL"] as const) {
          const r = c.impl === undefined ? await this.#floorCall(floor[command], command, p) : await this.#call(executable, command, p, conf);
          if (r.error !== undefined) {
            a.errors++;
            a.firstError ??= r.error;
          }
          if (i >= WARMUP) (command === "ADD" ? a.add : a.del).push(r.ms);
        }
        if (i >= WARMUP) {
          a.cpu += cpuMs("self-children") - cpuBefore;
          a.rounds++;
        }
      }
    }
    const daemonAfter = cases.map(daemonCpu);
    const ownAfter = cases.map(daemonOwn);
    for (const [ci, a] of acc.entries()) {
      a.cpu += (daemonAfter[ci] ?? 0) - (daemonBefore[ci] ?? 0);
      a.daemonCpu += (ownAfter[ci] ?? 0) - (ownBefore[ci] ?? 0);
    }
    return acc;
  }

  /**
   * API requests per ADD+DEL of one case: its own block of fresh pods, the server's counters read
   * before and after (the bench makes no request meanwhile), after events sent off the critical
   * path have landed.
   */
  async countApiRequests(c: Case & { impl: Implementation }, kind: DelegateKind, n: number, pods: readonly TestPod[]): Promise<{ perPod: number; kinds: Map<string, number> }> {
    const conf = this.#conf(c.impl, c.mode, kind, n, c.daemon);
    const executable = c.mode === "kubernetes-thick" ? c.impl.shim : c.impl.thin;
    // What the previous calls sent off their critical path lands first.
    await sleep(1500);
    const before = await apiRequests();
    for (const pod of pods) {
      const p = { ...pod, containerId: `${pod.containerId}a` };
      for (const command of ["ADD", "DEL"] as const) await this.#call(executable, command, p, conf);
    }
    await sleep(1500);
    const d = diffCounts(before, await apiRequests());
    const kinds = new Map([...d.byKind].map(([k, v]) => [k, v / pods.length]));
    return { perPod: d.total / pods.length, kinds };
  }

  /** `pods.length` ADDs at once, then as many DELs at once. */
  async burst(impl: Implementation, mode: Mode, kind: DelegateKind, n: number, pods: readonly TestPod[], daemon?: BenchDaemon): Promise<BurstResult> {
    const conf = this.#conf(impl, mode, kind, n, daemon);
    const executable = mode === "kubernetes-thick" ? impl.shim : impl.thin;
    const tag = `b${String(++seq)}`;
    const sandboxes = pods.map((p) => ({ ...p, containerId: `${p.containerId}${tag}` }));
    let errors = 0;
    let firstError: string | undefined;
    const wave = async (command: "ADD" | "DEL"): Promise<{ wall: number; each: number[] }> => {
      const started = performance.now();
      const each = await Promise.all(
        sandboxes.map(async (p) => {
          const r = await this.#call(executable, command, p, conf);
          if (r.error !== undefined) {
            errors++;
            firstError ??= r.error;
          }
          return r.ms;
        }),
      );
      return { wall: performance.now() - started, each };
    };
    const add = await wave("ADD");
    const del = await wave("DEL");
    return {
      impl: impl.label, mode, kind, secondaries: n, size: pods.length,
      addWallMs: add.wall, delWallMs: del.wall, add: summarize(add.each), del: summarize(del.each),
      errors, ...(firstError === undefined ? {} : { firstError }),
    };
  }
}

/** What `sample` collects for one case: every counted round's ADD and DEL time, CPU summed. */
export interface Samples {
  add: number[];
  del: number[];
  errors: number;
  firstError?: string;
  /** CPU ms of the counted rounds (the runtime's exec tree, plus the case's daemon over the block). */
  cpu: number;
  /** Of it, the daemon's own threads (not the plugins it ran). */
  daemonCpu: number;
  rounds: number;
}

/** Samples of the same case from several blocks, as one. */
export function mergeSamples(a: Samples, b: Samples): Samples {
  const firstError = a.firstError ?? b.firstError;
  return { add: [...a.add, ...b.add], del: [...a.del, ...b.del], errors: a.errors + b.errors, cpu: a.cpu + b.cpu, daemonCpu: a.daemonCpu + b.daemonCpu, rounds: a.rounds + b.rounds, ...(firstError === undefined ? {} : { firstError }) };
}

/** The rows of a table: the floor's (the case without an implementation) and each implementation's. */
export function rowsOf(kind: DelegateKind, n: number, cases: readonly Case[], samples: readonly Samples[]): { floor?: FloorResult; rows: SequentialResult[] } {
  const result: { floor?: FloorResult; rows: SequentialResult[] } = { rows: [] };
  for (const [ci, c] of cases.entries()) {
    const a = samples[ci];
    if (a === undefined) continue;
    const base: FloorResult = {
      kind, secondaries: n, add: summarize(a.add), del: summarize(a.del),
      cpuPerPod: a.rounds === 0 ? Number.NaN : a.cpu / a.rounds,
      errors: a.errors, ...(a.firstError === undefined ? {} : { firstError: a.firstError }),
    };
    if (c.impl === undefined) result.floor = base;
    else if (c.mode === "kubernetes-thick") result.rows.push({ ...base, impl: c.impl.label, mode: c.mode, daemonCpuPerPod: a.rounds === 0 ? Number.NaN : a.daemonCpu / a.rounds });
    else result.rows.push({ ...base, impl: c.impl.label, mode: c.mode });
  }
  return result;
}

/**
 * The end of a bench run. No kubelet runs the bench's pods and no controller manager empties a
 * deleted namespace on the test cluster: left behind, the pods and NADs would be listed and cached by
 * every later daemon on this test node, and inflate its memory and CPU. Failures are ignored (a
 * second cleanup finds nothing).
 */
export async function removeBenchNamespace(ns: string): Promise<void> {
  await kubectl(["delete", "pods", "--all", "-n", ns, "--force", "--grace-period=0"]).catch(() => "");
  await kubectl(["delete", "network-attachment-definitions", "--all", "-n", ns]).catch(() => "");
  await kubectl(["delete", "namespace", ns, "--wait=false"]).catch(() => "");
}
