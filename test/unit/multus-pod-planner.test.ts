// The Kubernetes-mode planner as production runs it: planForPod with the real network resolver
// (createNetworkResolver) over NAD objects held in memory (the API's answers) and config files in a
// temporary confDir. Table-driven: every row is a config, a pod's annotations and the plan (or the
// error) it must give. No network, no API server.
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { CniRequest } from "../../src/multus/config-file-planner.ts";
import { parseMultusConfig } from "../../src/multus/multus-config.ts";
import { createNetworkResolver } from "../../src/multus/network-resolver.ts";
import { planForPod } from "../../src/multus/pod-planner.ts";
import { MultusError } from "../../src/util/multus-error.ts";
import { DelegateConfigError } from "../../src/cni/delegate-config.ts";

const silent = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

let dir: string;
let confDir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "mt-planner-"));
  confDir = join(dir, "net.d");
  await mkdir(confDir);
  await writeFile(join(confDir, "10-cluster.conflist"), JSON.stringify({ cniVersion: "1.0.0", name: "file-cluster", plugins: [{ type: "bridge" }, { type: "portmap", capabilities: { portMappings: true } }] }));
  await writeFile(join(confDir, "20-extra.conf"), JSON.stringify({ cniVersion: "1.0.0", name: "file-extra", type: "ptp" }));
  await mkdir(join(dir, "cluster.d"));
  await writeFile(join(dir, "cluster.d", "05-first.conf"), JSON.stringify({ cniVersion: "1.0.0", name: "dir-first", type: "bridge" }));
  await writeFile(join(dir, "cluster.d", "50-second.conf"), JSON.stringify({ cniVersion: "1.0.0", name: "dir-second", type: "bridge" }));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const nad = (namespace: string, name: string, config: Record<string, unknown>): [string, unknown] => [
  `${namespace}/${name}`,
  { apiVersion: "k8s.cni.cncf.io/v1", kind: "NetworkAttachmentDefinition", metadata: { namespace, name }, spec: { config: JSON.stringify(config) } },
];

const API_DOWN = Symbol("the API cannot answer");

/** What the API would answer: NADs by "namespace/name"; absent = 404. */
const NADS = new Map<string, unknown>([
  nad("kube-system", "nad-cluster", { cniVersion: "1.0.0", type: "bridge", bridge: "cni0" }),
  nad("kube-system", "other-cluster", { cniVersion: "1.0.0", type: "ptp" }),
  nad("kube-system", "monitoring", { cniVersion: "1.0.0", type: "macvlan", master: "eth1" }),
  nad("team-a", "net-a", { cniVersion: "1.0.0", name: "a-cni", type: "bridge", bridge: "bra" }),
  nad("team-a", "net-b", { cniVersion: "1.0.0", type: "macvlan", master: "eth1", capabilities: { ips: true } }),
  nad("team-b", "net-x", { cniVersion: "1.0.0", type: "bridge" }),
  nad("default", "shared", { cniVersion: "1.0.0", type: "bridge" }),
  // The API cannot answer for these (a connection error, a 5xx after retries).
  ["kube-system/file-extra", API_DOWN],
  ["kube-system/nothing-on-disk", API_DOWN],
]);

/** Multus v1's kubernetes.com/v1 Network objects (legacyNetworks), by "namespace/name". */
const legacy = (namespace: string, name: string, plugin: string, args?: unknown): [string, unknown] => [
  `${namespace}/${name}`,
  { apiVersion: "kubernetes.com/v1", kind: "Network", metadata: { namespace, name }, plugin, ...(args === undefined ? {} : { args: JSON.stringify(args) }) },
];
const LEGACY = new Map<string, unknown>([
  legacy("team-a", "flannel-conf", "bridge", [{ bridge: "cni-legacy", ipam: { type: "host-local", subnet: "10.244.0.0/24" } }]),
  legacy("team-a", "ptp-conf", "ptp", [{ name: "ptp", ipam: { type: "host-local", subnet: "10.168.1.0/24" } }]),
  legacy("team-a", "third", "macvlan", [{ master: "eth1" }]),
  legacy("team-a", "evil", "multus", [{}]),
  legacy("team-a", "clash", "bridge", [{ type: "macvlan" }]),
]);
const LEGACY_SEED_003 = JSON.stringify([{ name: "flannel-conf" }, { name: "ptp-conf" }]);

const req: CniRequest = {
  containerId: "c1",
  netns: "/run/netns/p",
  ifName: "eth0",
  cniArgs: [["IgnoreUnknown", "1"], ["K8S_POD_NAMESPACE", "team-a"], ["K8S_POD_NAME", "p"]],
  runtimeConfig: { portMappings: [{ hostPort: 8080, containerPort: 80 }] },
};

interface Row {
  title: string;
  config: Record<string, unknown>;
  namespace?: string;
  name?: string;
  annotations?: Record<string, string>;
  /** [network, ifName] per attachment, in order; the first is the cluster network. */
  plan?: [string, string][];
  error?: { code: string; message: RegExp };
}

const base = { cniVersion: "1.0.0", type: "multus", kubeconfig: "/dev/null" };

const ROWS: Row[] = [
  { title: "clusterNetwork as a NAD in multusNamespace", config: { clusterNetwork: "nad-cluster" }, plan: [["kube-system/nad-cluster", "eth0"]] },
  { title: "clusterNetwork as the CNI name of a file in confDir (a .conflist)", config: { clusterNetwork: "file-cluster" }, plan: [["file-cluster", "eth0"]] },
  { title: "clusterNetwork as a directory: its first config file", config: { clusterNetwork: "/CLUSTER_DIR" }, plan: [["dir-first", "eth0"]] },
  { title: "clusterNetwork as an absolute file path", config: { clusterNetwork: "/CONF_DIR/20-extra.conf" }, plan: [["file-extra", "eth0"]] },
  { title: "clusterNetwork whose NAD lookup fails (API down) falls back to the config file of that CNI name, as upstream", config: { clusterNetwork: "file-extra" }, plan: [["file-extra", "eth0"]] },
  { title: "clusterNetwork whose NAD lookup fails and that names no file: the API's error, not a misleading 'not found'", config: { clusterNetwork: "nothing-on-disk" }, error: { code: "", message: /connection refused/ } },
  { title: "clusterNetwork that is none of these", config: { clusterNetwork: "nowhere" }, error: { code: "MULTUS_ERR_CONFIG", message: /network "nowhere" \(clusterNetwork\/defaultNetworks\) is not a NetworkAttachmentDefinition in kube-system, not the name of a config in .*, and not a config file or directory/ } },
  {
    title: "defaultNetworks follow the cluster network, then the selection",
    config: { clusterNetwork: "file-cluster", defaultNetworks: ["monitoring", "file-extra"] },
    annotations: { "k8s.v1.cni.cncf.io/networks": "net-a" },
    plan: [["file-cluster", "eth0"], ["kube-system/monitoring", "net1"], ["file-extra", "net2"], ["team-a/net-a", "net3"]],
  },
  {
    title: "systemNamespaces skip defaultNetworks (by the pod's namespace)",
    config: { clusterNetwork: "file-cluster", defaultNetworks: ["monitoring"], systemNamespaces: ["team-a"] },
    annotations: { "k8s.v1.cni.cncf.io/networks": "net-a" },
    plan: [["file-cluster", "eth0"], ["team-a/net-a", "net1"]],
  },
  {
    title: "a pod named like a system namespace is not a system pod",
    config: { clusterNetwork: "file-cluster", defaultNetworks: ["monitoring"] },
    name: "kube-system",
    plan: [["file-cluster", "eth0"], ["kube-system/monitoring", "net1"]],
  },
  {
    title: "the default-network annotation replaces clusterNetwork (its namespace defaults to multusNamespace)",
    config: { clusterNetwork: "file-cluster", defaultNetworks: ["monitoring"] },
    annotations: { "v1.multus-cni.io/default-network": "other-cluster" },
    plan: [["kube-system/other-cluster", "eth0"], ["kube-system/monitoring", "net1"]],
  },
  {
    title: "the default-network annotation replaces only the master of the delegates",
    config: { delegates: [{ cniVersion: "1.0.0", name: "d0", type: "bridge" }, { cniVersion: "1.0.0", name: "d1", type: "ptp" }] },
    annotations: { "v1.multus-cni.io/default-network": "team-b/net-x" },
    plan: [["team-b/net-x", "eth0"], ["d1", "net1"]],
  },
  {
    title: "the default-network annotation naming two networks",
    config: { clusterNetwork: "file-cluster" },
    annotations: { "v1.multus-cni.io/default-network": "net-a,net-b" },
    error: { code: "MULTUS_ERR_BAD_SELECTION", message: /v1\.multus-cni\.io\/default-network must name exactly one network, it names 2/ },
  },
  {
    title: "generated names count positions: a named interface still uses up its net<N>",
    config: { clusterNetwork: "file-cluster" },
    annotations: { "k8s.v1.cni.cncf.io/networks": "net-a@data0,net-b,net-a" },
    plan: [["file-cluster", "eth0"], ["team-a/net-a", "data0"], ["team-a/net-b", "net2"], ["team-a/net-a", "net3"]],
  },
  {
    title: "NPWG-10 an explicit name colliding with a generated net<N> fails naming both networks",
    config: { clusterNetwork: "file-cluster" },
    annotations: { "k8s.v1.cni.cncf.io/networks": "net-a@net2,net-b" },
    error: { code: "MULTUS_ERR_INTERFACE_NAME", message: /network "team-a\/net-b": interface name "net2" is already used by network "team-a\/net-a"/ },
  },
  {
    title: "NPWG-10 two explicit requests for one name fail",
    config: { clusterNetwork: "file-cluster" },
    annotations: { "k8s.v1.cni.cncf.io/networks": "net-a@data, team-b/net-x@data" },
    error: { code: "MULTUS_ERR_INTERFACE_NAME", message: /interface name "data" is already used by network "team-a\/net-a"/ },
  },
  {
    title: "NPWG-10 a selection may not take the runtime's CNI_IFNAME",
    config: { clusterNetwork: "file-cluster" },
    annotations: { "k8s.v1.cni.cncf.io/networks": "net-a@eth0" },
    error: { code: "MULTUS_ERR_INTERFACE_NAME", message: /interface name "eth0" is already used by network "file-cluster"/ },
  },
  {
    title: "NPWG-27 namespaceIsolation refuses another namespace's NAD",
    config: { clusterNetwork: "file-cluster", namespaceIsolation: true },
    annotations: { "k8s.v1.cni.cncf.io/networks": "team-b/net-x" },
    error: { code: "MULTUS_ERR_NAMESPACE_ISOLATION", message: /pod team-a\/p: k8s\.v1\.cni\.cncf\.io\/networks names network team-b\/net-x, in namespace "team-b"/ },
  },
  {
    title: "NPWG-27 namespaceIsolation covers the default-network override too: another tenant's NAD cannot become eth0 (upstream checks only the networks annotation)",
    config: { clusterNetwork: "file-cluster", namespaceIsolation: true },
    annotations: { "v1.multus-cni.io/default-network": "team-b/net-x" },
    error: { code: "MULTUS_ERR_NAMESPACE_ISOLATION", message: /pod team-a\/p: v1\.multus-cni\.io\/default-network names network team-b\/net-x, in namespace "team-b", but namespaceIsolation lets this pod use networks only from "team-a", "kube-system", "default"/ },
  },
  {
    title: "NPWG-27 with namespaceIsolation the default-network override may name multusNamespace's NADs (its default), the pod's own and globalNamespaces'",
    config: { clusterNetwork: "file-cluster", namespaceIsolation: true, globalNamespaces: "default" },
    annotations: { "v1.multus-cni.io/default-network": "other-cluster" },
    plan: [["kube-system/other-cluster", "eth0"]],
  },
  {
    title: "NPWG-27 with namespaceIsolation the default-network override may name a NAD of the pod's namespace",
    config: { clusterNetwork: "file-cluster", namespaceIsolation: true },
    annotations: { "v1.multus-cni.io/default-network": "team-a/net-a" },
    plan: [["team-a/net-a", "eth0"]],
  },
  {
    title: "NPWG-27 namespaceIsolation allows the pod's namespace and globalNamespaces",
    config: { clusterNetwork: "file-cluster", namespaceIsolation: true, globalNamespaces: "default,team-b" },
    annotations: { "k8s.v1.cni.cncf.io/networks": "net-a,team-b/net-x,default/shared" },
    plan: [["file-cluster", "eth0"], ["team-a/net-a", "net1"], ["team-b/net-x", "net2"], ["default/shared", "net3"]],
  },
  {
    title: "a selected NAD that does not exist",
    config: { clusterNetwork: "file-cluster" },
    annotations: { "k8s.v1.cni.cncf.io/networks": "missing" },
    error: { code: "MULTUS_ERR_NAD_NOT_FOUND", message: /NetworkAttachmentDefinition team-a\/missing not found/ },
  },
  {
    title: "NPWG-12 portMappings without the capability fail at planning (no CNI_ARGS route)",
    config: { clusterNetwork: "file-cluster" },
    annotations: { "k8s.v1.cni.cncf.io/networks": JSON.stringify([{ name: "net-a", portMappings: [{ hostPort: 1, containerPort: 2 }] }]) },
    error: { code: "MULTUS_ERR_CAPABILITY_MISSING", message: /network "team-a\/net-a" \(element 0\) requests "portMappings"/ },
  },
  // Multus v1's legacy API (seeds 002/003; docs/legacy-networks.md).
  {
    title: "legacy: seed 003's networks annotation, with legacyNetworks on: flannel-conf is eth0 in place of the cluster network, ptp-conf net0",
    config: { clusterNetwork: "file-cluster", legacyNetworks: true },
    annotations: { networks: LEGACY_SEED_003 },
    plan: [["team-a/flannel-conf", "eth0"], ["team-a/ptp-conf", "net0"]],
  },
  {
    title: "legacy: three networks are eth0, net0, net1; defaultNetworks follow with their positions",
    config: { clusterNetwork: "file-cluster", defaultNetworks: ["file-extra"], legacyNetworks: true },
    annotations: { networks: JSON.stringify([{ name: "flannel-conf" }, { name: "ptp-conf" }, { name: "third" }]) },
    plan: [["team-a/flannel-conf", "eth0"], ["team-a/ptp-conf", "net0"], ["team-a/third", "net1"], ["file-extra", "net3"]],
  },
  {
    title: "legacy: off by default, the networks annotation is not read",
    config: { clusterNetwork: "file-cluster" },
    annotations: { networks: LEGACY_SEED_003 },
    plan: [["file-cluster", "eth0"]],
  },
  {
    title: "legacy: a pod with k8s.v1.cni.cncf.io/networks is planned from it alone",
    config: { clusterNetwork: "file-cluster", legacyNetworks: true },
    annotations: { networks: LEGACY_SEED_003, "k8s.v1.cni.cncf.io/networks": "net-a" },
    plan: [["file-cluster", "eth0"], ["team-a/net-a", "net1"]],
  },
  {
    title: "legacy: in config-file delegates mode the first Network replaces the master, the other delegates stay",
    config: { delegates: [{ name: "master", type: "bridge", masterplugin: true }, { name: "second", type: "ptp" }], legacyNetworks: true },
    annotations: { networks: JSON.stringify([{ name: "ptp-conf" }]) },
    plan: [["team-a/ptp-conf", "eth0"], ["second", "net1"]],
  },
  {
    title: "legacy: a missing Network is named",
    config: { clusterNetwork: "file-cluster", legacyNetworks: true },
    annotations: { networks: JSON.stringify([{ name: "flannel-conf" }, { name: "gone" }]) },
    error: { code: "MULTUS_ERR_NAD_NOT_FOUND", message: /^pod team-a\/p: Network team-a\/gone \(kubernetes\.com\/v1\) not found/ },
  },
  {
    title: "legacy: a Network whose plugin is Multus itself is refused by the delegate policy",
    config: { clusterNetwork: "file-cluster", legacyNetworks: true },
    annotations: { networks: JSON.stringify([{ name: "evil" }]) },
    error: { code: "MULTUS_ERR_DELEGATE_REFUSED", message: /^Network team-a\/evil \(kubernetes\.com\/v1\): plugin\/args plugins\[0\]\.type is "multus", one of Multus's own programs/ },
  },
  {
    title: "legacy: args naming another type than plugin is an error naming args",
    config: { clusterNetwork: "file-cluster", legacyNetworks: true },
    annotations: { networks: JSON.stringify([{ name: "clash" }]) },
    error: { code: "MULTUS_ERR_NAD_CONFIG", message: /Network team-a\/clash: "args" names type "macvlan" but "plugin" is "bridge"/ },
  },
  {
    title: "legacy: an element with a key other than name is refused, naming it",
    config: { clusterNetwork: "file-cluster", legacyNetworks: true },
    annotations: { networks: JSON.stringify([{ name: "flannel-conf", interface: "x" }]) },
    error: { code: "MULTUS_ERR_BAD_SELECTION", message: /annotation "networks": element 0: key "interface" is not known \(the legacy form knows only "name"/ },
  },
  {
    title: "legacy: with a default-network override too, the pod is refused (two cluster networks)",
    config: { clusterNetwork: "file-cluster", legacyNetworks: true },
    annotations: { networks: LEGACY_SEED_003, "v1.multus-cni.io/default-network": "nad-cluster" },
    error: { code: "MULTUS_ERR_BAD_SELECTION", message: /both v1\.multus-cni\.io\/default-network and the legacy "networks" annotation/ },
  },
];

async function plan(row: Row): Promise<ReturnType<typeof planForPod>> {
  const json = JSON.parse(JSON.stringify({ ...base, confDir, ...row.config }).replaceAll("/CLUSTER_DIR", join(dir, "cluster.d")).replaceAll("/CONF_DIR", confDir)) as unknown;
  const config = parseMultusConfig(json, "test");
  const resolver = createNetworkResolver(config, (ns, n) => {
    const got = NADS.get(`${ns}/${n}`);
    return got === API_DOWN ? Promise.reject(new Error("get NetworkAttachmentDefinition: connection refused")) : Promise.resolve(got);
  }, silent, (ns, n) => Promise.resolve(LEGACY.get(`${ns}/${n}`)));
  return planForPod({ config, req, pod: { namespace: row.namespace ?? "team-a", name: row.name ?? "p", uid: "u1" }, annotations: row.annotations ?? {} }, resolver);
}

describe("planForPod", () => {
  for (const row of ROWS) {
    test(row.title, async () => {
      if (row.error !== undefined) {
        const want = row.error;
        await assert.rejects(plan(row), (err: unknown) => {
          assert.ok(err instanceof Error, String(err));
          if (want.code !== "") {
            assert.ok(err instanceof MultusError || err instanceof DelegateConfigError, String(err));
            assert.equal(err.errorCode, want.code);
          }
          assert.match(err.message, want.message);
          return true;
        });
        return;
      }
      const p = await plan(row);
      assert.deepEqual(p.attachments.map((a) => [a.network, a.ifName]), row.plan);
      assert.deepEqual(p.attachments.map((a) => a.isDefault), p.attachments.map((_, i) => i === 0));
    });
  }

  test("NPWG-28 the runtime's runtimeConfig goes to the cluster network only; a selection's requests to its own attachment", async () => {
    const p = await plan({
      title: "",
      config: { clusterNetwork: "file-cluster" },
      annotations: { "k8s.v1.cni.cncf.io/networks": JSON.stringify([{ name: "net-b", ips: ["10.1.1.5/24"] }]) },
    });
    const [cluster, selected] = p.attachments;
    assert.ok(cluster !== undefined && selected !== undefined);
    assert.deepEqual(cluster.capabilityArgs, req.runtimeConfig);
    assert.deepEqual(selected.capabilityArgs, { ips: ["10.1.1.5/24"] });
    assert.deepEqual(selected.cniArgs.find(([k]) => k === "IP"), ["IP", "10.1.1.5/24"], "also as CNI_ARGS IP=, as upstream");
    assert.equal(selected.expect, undefined, "net-b declares ips: nothing to verify");
  });

  test("NPWG-08 NPWG-09 ips/mac no plugin declares are not refused: they go as IP=/MAC= and must show in the result", async () => {
    const p = await plan({
      title: "",
      config: { clusterNetwork: "file-cluster" },
      annotations: { "k8s.v1.cni.cncf.io/networks": JSON.stringify([{ name: "net-a", ips: ["10.1.1.21/24"], mac: "02:00:00:00:00:01" }]) },
    });
    const selected = p.attachments[1];
    assert.ok(selected !== undefined);
    assert.deepEqual(selected.expect, { ips: ["10.1.1.21/24"], mac: "02:00:00:00:00:01" });
    assert.deepEqual(selected.cniArgs.filter(([k]) => k === "IP" || k === "MAC"), [["IP", "10.1.1.21/24"], ["MAC", "02:00:00:00:00:01"]]);
  });

  test("delegates get IgnoreUnknown first, then the pod's identity and the runtime's other pairs", async () => {
    const p = await plan({ title: "", config: { clusterNetwork: "file-cluster" }, annotations: { "k8s.v1.cni.cncf.io/networks": "net-a" } });
    assert.deepEqual(p.attachments[1]?.cniArgs, [
      ["IgnoreUnknown", "true"],
      ["K8S_POD_NAMESPACE", "team-a"],
      ["K8S_POD_NAME", "p"],
      ["K8S_POD_INFRA_CONTAINER_ID", "c1"],
      ["K8S_POD_UID", "u1"],
    ]);
  });
});
