// A test bed for Kubernetes-mode multus against the real control plane (test/cluster): a throw-away
// "node" network namespace where dist/bin/multus and the reference plugins run (as on a node), the
// kube-apiserver reachable from it over a loopback bridge (test/helpers/api-bridge.ts), a "lan"
// namespace behind a veth `lan0` for macvlan, a state directory (confDir with the cluster network's
// config file, cniDir, host-local's dataDir), and pod "sandboxes" as further network namespaces.
// Pods are real API objects; no kubelet runs them, so the bed drives multus with the env and
// CNI_ARGS a container runtime sends.
//
// Two modes, one set of assertions: "thin" runs dist/bin/multus per call; "thick" (MULTUS_TS_MODE=thick
// or opts.mode) starts the real dist/bin/multus-daemon in the node namespace (its informers on the real
// API, its socket in the state dir) and drives dist/bin/multus-shim instead, which forwards each call to
// the daemon exactly as on a thick node. Events are sent off the daemon's critical path, so `events()`
// waits until they stop changing.
//
// Exported API:
//   createKubeBed(cluster, opts?): Promise<KubeBed>    everything created here is removed by close()
//   useKubeBed(cluster, opts?): () => KubeBed           a fresh bed per test (beforeEach/afterEach)
//   nadYaml(namespace, name, config): string            a NetworkAttachmentDefinition manifest
//   interface TestPod { namespace, name, uid, containerId, netns: Netns }
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach } from "node:test";
import { applyYaml, kubectl, type ClusterPaths } from "../cluster/harness.ts";
import { startApiBridge, type ApiBridge } from "./api-bridge.ts";
import { createNetns, createVethPair, deleteNetns, execInNetns, listAddresses, listLinks, settledResidue, snapshotNode, type Netns, type NodeSnapshot } from "./netns.ts";
import { startExecutable, type RunResult, type StartedExecutable } from "./run-executable.ts";
import { startDaemon, type TestDaemon } from "./daemon.ts";
import { setTimeout as sleep } from "node:timers/promises";

export type BedMode = "thin" | "thick";

export const REF_PLUGINS = "/usr/lib/cni";

export interface TestPod {
  namespace: string;
  name: string;
  uid: string;
  containerId: string;
  /** The pod's sandbox network namespace. */
  netns: Netns;
}

export interface CniCall {
  conf: string;
  /** CNI_NETNS; default the pod's namespace path ("" for containerd's second DEL). */
  netnsPath?: string;
  /** Extra environment (reaches the delegates too: CNI-P-13). */
  env?: Record<string, string>;
  timeoutMs?: number;
  /** Run this executable instead of the mode's (a path: e.g. upstream's multus-shim). */
  executable?: string;
}

export interface Status {
  name: string;
  interface?: string;
  ips?: string[];
  mac?: string;
  default: boolean;
}

export interface KubeBed {
  mode: BedMode;
  /** Thick mode: the running daemon (tests may stop, kill or restart it). */
  daemon: TestDaemon | undefined;
  /** Thick mode: start a (new) daemon with the bed's daemon config plus `extra`; it becomes `daemon`. */
  startDaemon(extra?: Record<string, unknown>): Promise<TestDaemon>;
  /** Thick mode: the daemon's socket directory. */
  socketDir: string;
  node: Netns;
  lan: Netns;
  state: string;
  api: ApiBridge;
  /** The multus config: clusterNetwork "cluster-net" (a bridge file in confDir), plus `extra`. */
  conf(extra?: Record<string, unknown>): string;
  cniDir: string;
  ipamDir: string;
  confDir: string;
  /** The multus ServiceAccount's kubeconfig (JSON, as multus-install writes it) that conf() names. */
  kubeconfig: string;
  /** A pod object in the API (nodeName set, never scheduled) with a sandbox namespace of its own. */
  createPod(namespace: string, networks: string | undefined, name?: string): Promise<TestPod>;
  /** A sandbox for a pod the test describes itself (none in the API, a static pod, another UID). */
  sandbox(namespace: string, name: string, uid: string): Promise<TestPod>;
  cni(command: string, p: TestPod, call: CniCall): Promise<RunResult>;
  startCni(command: string, p: TestPod, call: CniCall): StartedExecutable;
  /**
   * What is left beyond the node's state when the bed was made (node links, leases, iptables rules:
   * node-wide, so check once every pod is gone) plus `p`'s own journal, lock file and cache entries.
   */
  residue(p: TestPod): Promise<string[]>;
  podInterfaces(p: TestPod): Promise<Map<string, { mac: string; ips: string[] }>>;
  networkStatus(p: TestPod): Promise<Status[]>;
  events(p: TestPod): Promise<string[]>;
  close(): Promise<void>;
}

/**
 * The test NADs keep host-local's leases under the bed's state directory (never the machine's
 * /var/lib/cni/networks): the policy lets networks of the tests' namespaces name it (docs/security.md).
 */
export function testDelegatePolicy(state: string): Record<string, unknown> {
  return { allowedHostPaths: [`${state}/`] };
}

let seq = 0;

export async function createKubeBed(
  cluster: ClusterPaths,
  opts: { clusterConf?: Record<string, unknown>; prepareNode?: (node: Netns, lan: Netns) => Promise<void>; mode?: BedMode; daemonConfig?: Record<string, unknown>; daemonEnv?: Record<string, string> } = {},
): Promise<KubeBed> {
  const mode: BedMode = opts.mode ?? (process.env["MULTUS_TS_MODE"] === "thick" ? "thick" : "thin");
  const created: Netns[] = [];
  const node = await createNetns("mt-knode");
  created.push(node);
  const lan = await createNetns("mt-klan");
  created.push(lan);
  const server = (await kubectl(["config", "view", "--minify", "-o", "jsonpath={.clusters[0].cluster.server}"], { kubeconfig: cluster.multusKubeconfig })).trim();
  // multus runs in the node namespace, like on a real node: the API must be reachable from there.
  const api = await startApiBridge(node.name, Number(new URL(server).port));
  await createVethPair({ ns: node.name, name: "lan0" }, { ns: lan.name, name: "lan-peer" });
  await execInNetns(lan.name, ["ip", "addr", "add", "10.20.0.1/24", "dev", "lan-peer"]);
  const state = await mkdtemp(join(tmpdir(), "mt-kmultus-"));
  const confDir = join(state, "net.d");
  const cniDir = join(state, "multus");
  const ipamDir = join(state, "ipam");
  await mkdir(confDir);
  const socketDir = join(state, "run");
  const generatedDir = join(state, "generated");
  await mkdir(generatedDir);
  // The multus ServiceAccount's kubeconfig as multus-install writes it for thin mode: JSON (valid YAML,
  // so every Multus reads it; ours parses it without loading a YAML library).
  const kubeconfig = join(state, "multus.kubeconfig");
  await writeFile(kubeconfig, await kubectl(["config", "view", "--raw", "--minify", "-o", "json"], { kubeconfig: cluster.multusKubeconfig }), { mode: 0o600 });
  // The cluster network is a config file found by its CNI name in confDir (clusterNetwork).
  await writeFile(
    join(confDir, "10-cluster.conf"),
    JSON.stringify({ cniVersion: "1.0.0", name: "cluster-net", type: "bridge", bridge: "mt-cbr0", isGateway: true, ipam: { type: "host-local", subnet: "10.88.0.0/24", routes: [{ dst: "0.0.0.0/0" }], dataDir: ipamDir }, ...opts.clusterConf }),
  );
  await opts.prepareNode?.(node, lan);
  const snap: NodeSnapshot = await snapshotNode({ nodeNs: node.name });

  const bed: KubeBed = {
    mode,
    daemon: undefined,
    socketDir,
    async startDaemon(extra = {}) {
      bed.daemon = await startDaemon({
        netns: node.name,
        dir: state,
        nodeName: "mt-node",
        ...(opts.daemonEnv === undefined ? {} : { env: opts.daemonEnv }),
        config: {
          socketDir, cniConfigDir: generatedDir, multusAutoconfigDir: confDir, cniVersion: "1.0.0", kubeconfig,
          // Thin keys of the daemon config override every request's (upstream's semantics); these two
          // are the bed's for every request anyway, and make the generated config usable as is.
          // delegatePolicy too, as an administrator sets it in the daemon config (it then reaches the
          // generated config and hot-plug); a test that varies it starts a daemon with its own.
          cniDir, confDir, logLevel: "verbose", delegatePolicy: testDelegatePolicy(state), ...opts.daemonConfig, ...extra,
        },
      });
      return bed.daemon;
    },
    node,
    lan,
    state,
    api,
    cniDir,
    ipamDir,
    confDir,
    kubeconfig,
    conf(extra = {}) {
      const thick = mode === "thick" ? { type: "multus-shim", daemonSocketDir: socketDir } : {};
      return JSON.stringify({
        cniVersion: "1.0.0", name: "multus", type: "multus", kubeconfig,
        clusterNetwork: "cluster-net", confDir, cniDir, binDir: REF_PLUGINS, delegatePolicy: testDelegatePolicy(state), ...thick, ...extra,
      });
    },
    async createPod(namespace, networks, name = "p") {
      const annotations = networks === undefined ? "{}" : JSON.stringify({ "k8s.v1.cni.cncf.io/networks": networks });
      await applyYaml(`
apiVersion: v1
kind: Pod
metadata: { name: ${name}, namespace: ${namespace}, annotations: ${annotations} }
spec:
  nodeName: mt-node
  containers: [{ name: c, image: busybox }]
`);
      const uid = (await kubectl(["get", "pod", "-n", namespace, name, "-o", "jsonpath={.metadata.uid}"])).trim();
      return bed.sandbox(namespace, name, uid);
    },
    async sandbox(namespace, name, uid) {
      const netns = await createNetns("mt-kpod");
      created.push(netns);
      return { namespace, name, uid, containerId: `k${String(process.pid)}x${String(++seq)}`, netns };
    },
    cni(command, p, call) {
      return bed.startCni(command, p, call).done;
    },
    startCni(command, p, call) {
      return startExecutable(call.executable ?? (mode === "thick" ? "multus-shim" : "multus"), {
        netns: node.name,
        stdin: call.conf,
        timeoutMs: call.timeoutMs ?? 120_000,
        env: {
          ...call.env,
          CNI_COMMAND: command, CNI_CONTAINERID: p.containerId, CNI_NETNS: call.netnsPath ?? p.netns.path, CNI_IFNAME: "eth0", CNI_PATH: REF_PLUGINS,
          CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=${p.namespace};K8S_POD_NAME=${p.name};K8S_POD_INFRA_CONTAINER_ID=${p.containerId};K8S_POD_UID=${p.uid}`,
        },
      });
    },
    async residue(p) {
      // Bridges stay on the node by design (the bridge plugin never deletes them).
      const left = await settledResidue(snap, { nodeNs: node.name, podNs: p.netns.name, hostLocalDataDir: ipamDir, cacheDir: cniDir, containerId: p.containerId }, { ignore: (r) => /^node link mt-\S+ \(bridge\)$/.test(r) });
      const journals = (await readdir(join(cniDir, "attachments")).catch(() => [])).filter((f) => f.startsWith(p.containerId));
      const locks = (await readdir(join(cniDir, "locks")).catch(() => [])).filter((f) => f.startsWith(p.containerId));
      const upstream = (await readdir(cniDir).catch(() => [])).filter((f) => f === p.containerId);
      return [...left, ...journals.map((r) => `journal ${r}`), ...locks.map((r) => `lock file ${r}`), ...upstream.map((r) => `upstream record ${r}`)];
    },
    async podInterfaces(p) {
      const links = await listLinks(p.netns.name);
      const addrs = await listAddresses(p.netns.name);
      const out = new Map<string, { mac: string; ips: string[] }>();
      for (const l of links) {
        if (l.ifname === "lo") continue;
        const ips = (addrs.find((a) => a.ifname === l.ifname)?.addresses ?? []).filter((a) => a.family === "inet").map((a) => a.cidr.split("/")[0] ?? "");
        out.set(l.ifname, { mac: l.address ?? "", ips });
      }
      return out;
    },
    async networkStatus(p) {
      const raw = await kubectl(["get", "pod", "-n", p.namespace, p.name, "-o", "jsonpath={.metadata.annotations.k8s\\.v1\\.cni\\.cncf\\.io/network-status}"]);
      assert.notEqual(raw, "", `pod ${p.namespace}/${p.name} has no network-status annotation`);
      return JSON.parse(raw) as Status[];
    },
    async events(p) {
      const read = async (): Promise<string[]> => {
        const out = await kubectl(["get", "events", "-n", p.namespace, "--field-selector", `involvedObject.name=${p.name}`, "-o", "jsonpath={range .items[*]}{.type} {.reason}: {.message}{\"\\n\"}{end}"]);
        return out.split("\n").filter((l) => l !== "");
      };
      if (mode === "thin") return read();
      // The daemon sends events after answering: read until some have arrived and two reads agree.
      let last = await read();
      for (let i = 0; i < 15; i++) {
        await sleep(200);
        const now = await read();
        if (now.length > 0 && now.join("\n") === last.join("\n")) return now;
        last = now;
      }
      return last;
    },
    async close() {
      await bed.daemon?.stop("SIGTERM", 10_000);
      await api.stop();
      for (const ns of created.reverse()) await deleteNetns(ns.name);
      await rm(state, { recursive: true, force: true });
    },
  };
  if (mode === "thick") {
    try {
      await bed.startDaemon();
    } catch (err) {
      await bed.close();
      throw err;
    }
  }
  return bed;
}

type BedOptions = Parameters<typeof createKubeBed>[1];

/** A fresh bed for every test of the file; the returned getter gives the current one. */
export function useKubeBed(cluster: ClusterPaths, opts?: BedOptions): () => KubeBed {
  let bed: KubeBed | undefined;
  beforeEach(async () => {
    bed = await createKubeBed(cluster, opts);
  });
  afterEach(async () => {
    await bed?.close();
    bed = undefined;
  });
  return () => {
    if (bed === undefined) throw new Error("useKubeBed: no test is running");
    return bed;
  };
}

/** A NetworkAttachmentDefinition whose spec.config is `config` (a CNI config or config list). */
export function nadYaml(namespace: string, name: string, config: object): string {
  return `
apiVersion: k8s.cni.cncf.io/v1
kind: NetworkAttachmentDefinition
metadata: { name: ${name}, namespace: ${namespace} }
spec:
  config: '${JSON.stringify(config)}'
`;
}
