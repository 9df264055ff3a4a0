// dist/bin/multus on a real node, end to end. Real: kube-apiserver + etcd, kubelet v1.35,
// containerd 1.6 + runc (test/cluster/node/node.sh), the NAD CRD and RBAC we ship, the multus
// ServiceAccount token, the reference CNI plugins, kubectl. containerd execs multus as the node's
// CNI plugin (00-multus.conf in front of the `mt-podnet` bridge conflist); pods are created with
// kubectl, run by kubelet, and looked at from inside with `kubectl exec`. The same scenarios run with
// thick mode as the node's CNI in multus-node-thick.test.ts.
import assert from "node:assert/strict";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test, type TestContext } from "node:test";
import { decodeCacheEntry, encodeCacheEntry } from "../../src/cni/result-cache.ts";
import { applyYaml, kubectl, run } from "../cluster/harness.ts";
import {
  BUSYBOX,
  createNad,
  createNamespace,
  createPod,
  deletePod,
  eventMessages,
  eventually,
  networkStatus,
  nodeLinks,
  nodeNatRules,
  nodeResidue,
  podInterfaces,
  podInterfacesIpJson,
  podPhaseAndWaiting,
  podSandbox,
  useNode,
  waitPodReady,
  type NodeInfo,
  type PodInterface,
} from "./node-harness.ts";

const node = useNode();
const NETWORKS = "k8s.v1.cni.cncf.io/networks";

/** The bridge NAD of seed 000: bridge `mynet`, host-local leases kept in the node's state dir. */
function bridgeConfig(info: NodeInfo, bridge: string, subnet: string): Record<string, unknown> {
  return { cniVersion: "1.0.0", type: "bridge", bridge, ipam: { type: "host-local", subnet, dataDir: join(info.stateDir, "ipam") } };
}

async function readyPod(t: TestContext, annotations: Record<string, string> = {}): Promise<{ namespace: string; name: string }> {
  const namespace = await createNamespace(t);
  const name = "pod";
  await createPod({ namespace, name, annotations });
  await waitPodReady(namespace, name);
  return { namespace, name };
}

function inSubnet24(ip: string, prefix: string): boolean {
  return ip.startsWith(prefix);
}

const mode = process.env["MULTUS_TS_NODE_MODE"] === "thick" ? "thick" : "thin";

describe(`a pod on a real node (${mode} mode)`, () => {
  test("NPWG-22 NPWG-21 a pod without annotation gets lo and eth0 on the cluster network only", async (t) => {
    const pod = await readyPod(t);
    const interfaces = await podInterfaces(pod.namespace, pod.name);
    assert.deepEqual(interfaces.map((i) => i.name).sort(), ["eth0", "lo"]);
    const eth0 = interfaces.find((i) => i.name === "eth0");
    assert.ok(eth0 !== undefined);
    assert.ok(eth0.ips.some((ip) => inSubnet24(ip, "10.244.0.")), `eth0 has no 10.244.0.0/24 address: ${JSON.stringify(eth0)}`);
    const status = await networkStatus(pod.namespace, pod.name);
    assert.deepEqual(status.map((s) => [s.name, s.interface, s.default]), [["mt-podnet", "eth0", true]]);
    assert.deepEqual(status[0]?.ips, eth0.ips);
  });

  test("NPWG-05 seed 000 bridge: a NAD for bridge mynet gives net1 and creates mynet in the node netns", async (t) => {
    const info = node();
    const namespace = await createNamespace(t);
    await createNad(namespace, "bridge", bridgeConfig(info, "mynet", "10.10.0.0/24"));
    await createPod({ namespace, name: "pod", annotations: { [NETWORKS]: "bridge" } });
    await waitPodReady(namespace, "pod");
    const interfaces = await podInterfaces(namespace, "pod");
    assert.deepEqual(interfaces.map((i) => i.name).sort(), ["eth0", "lo", "net1"]);
    const net1 = interfaces.find((i) => i.name === "net1");
    assert.ok(net1?.ips.some((ip) => inSubnet24(ip, "10.10.0.")), `net1: ${JSON.stringify(net1)}`);
    const mynet = (await nodeLinks(info)).find((l) => l.name === "mynet");
    assert.equal(mynet?.kind, "bridge", "bridge mynet is not in the node netns");
    // Everything of the node stays in its namespace: the root namespace has neither bridge.
    const root = await run("ip", ["-json", "link", "show"]);
    const rootLinks: unknown = JSON.parse(root.stdout);
    assert.ok(Array.isArray(rootLinks));
    const rootNames = rootLinks.map((l: unknown) => (typeof l === "object" && l !== null && "ifname" in l ? String(l.ifname) : ""));
    assert.ok(!rootNames.includes("mynet") && !rootNames.includes("cni0"), `root namespace links: ${rootNames.join(", ")}`);
  });

  test("NPWG-05 NPWG-17 the same NAD twice gives net1 and net2 with distinct addresses", async (t) => {
    const info = node();
    const namespace = await createNamespace(t);
    await createNad(namespace, "bridge", bridgeConfig(info, "mynet2", "10.11.0.0/24"));
    await createPod({ namespace, name: "pod", annotations: { [NETWORKS]: "bridge,bridge" } });
    await waitPodReady(namespace, "pod");
    const interfaces = await podInterfaces(namespace, "pod");
    const net1 = interfaces.find((i) => i.name === "net1");
    const net2 = interfaces.find((i) => i.name === "net2");
    assert.ok(net1 !== undefined && net2 !== undefined, `interfaces: ${JSON.stringify(interfaces)}`);
    assert.equal(net1.ips.length, 1);
    assert.equal(net2.ips.length, 1);
    assert.notEqual(net1.ips[0], net2.ips[0]);
    assert.ok(net1.ips.concat(net2.ips).every((ip) => inSubnet24(ip, "10.11.0.")));
  });

  test("NPWG-05 NPWG-07 NPWG-10 a JSON annotation names the interfaces dataplane1 and dataplane2", async (t) => {
    const info = node();
    const namespace = await createNamespace(t);
    await createNad(namespace, "bridge", bridgeConfig(info, "mynet3", "10.12.0.0/24"));
    const selection = JSON.stringify([
      { name: "bridge", interface: "dataplane1" },
      { name: "bridge", namespace, interface: "dataplane2" },
    ]);
    await createPod({ namespace, name: "pod", annotations: { [NETWORKS]: selection } });
    await waitPodReady(namespace, "pod");
    const names = (await podInterfaces(namespace, "pod")).map((i) => i.name).sort();
    assert.deepEqual(names, ["dataplane1", "dataplane2", "eth0", "lo"]);
  });

  test("NPWG-18 NPWG-19 network-status matches the interfaces seen inside the pod", async (t) => {
    const info = node();
    const namespace = await createNamespace(t);
    await createNad(namespace, "bridge", bridgeConfig(info, "mynet4", "10.13.0.0/24"));
    await createPod({ namespace, name: "pod", annotations: { [NETWORKS]: "bridge,bridge" } });
    await waitPodReady(namespace, "pod");
    const status = await networkStatus(namespace, "pod");
    // Two views of the pod: busybox's `ip addr` from inside (kubectl exec), and the host's
    // `ip -json addr` entered into the sandbox's netns that containerd reports.
    const interfaces = await podInterfaces(namespace, "pod");
    const byIpJson = await podInterfacesIpJson(info, namespace, "pod");
    const sorted = (list: readonly PodInterface[]): PodInterface[] => [...list].sort((a, b) => a.name.localeCompare(b.name));
    assert.deepEqual(sorted(interfaces), sorted(byIpJson));
    assert.deepEqual(status.map((s) => [s.name, s.interface, s.default]), [
      ["mt-podnet", "eth0", true],
      [`${namespace}/bridge`, "net1", false],
      [`${namespace}/bridge`, "net2", false],
    ]);
    for (const entry of status) {
      const seen = interfaces.find((i) => i.name === entry.interface);
      assert.ok(seen !== undefined, `${String(entry.interface)} is not in the pod`);
      assert.deepEqual([...entry.ips].sort(), [...seen.ips].sort(), `ips of ${seen.name}`);
      assert.equal(entry.mac, seen.mac, `mac of ${seen.name}`);
    }
  });

  test("CNI-R-10 CNI-P-09 NPWG-25 deleting a pod leaves no veth, lease or attachment record on the node", async (t) => {
    const info = node();
    const namespace = await createNamespace(t);
    await createNad(namespace, "bridge", bridgeConfig(info, "mynet5", "10.14.0.0/24"));
    const before = await nodeResidue(info);
    await createPod({ namespace, name: "pod", annotations: { [NETWORKS]: "bridge" } });
    await waitPodReady(namespace, "pod");
    const during = await nodeResidue(info);
    const added = [...during].filter((item) => !before.has(item));
    // eth0 and net1: two veths, two leases, and multus's records of the pod.
    assert.equal(added.filter((i) => i.startsWith("veth ")).length, 2, `added: ${added.join(", ")}`);
    assert.equal(added.filter((i) => i.startsWith("lease ")).length, 2, `added: ${added.join(", ")}`);
    assert.ok(added.some((i) => i.startsWith("record ")), `no multus record added: ${added.join(", ")}`);
    await deletePod(namespace, "pod");
    await expectGoneFromNode(info, added);
  });

  test("CNI-R-10 NPWG-25 a pod deleted after its NAD still releases the NAD's lease and veth", async (t) => {
    const info = node();
    const namespace = await createNamespace(t);
    await createNad(namespace, "short-lived", bridgeConfig(info, "mynet9", "10.18.0.0/24"));
    const before = await nodeResidue(info);
    await createPod({ namespace, name: "pod", annotations: { [NETWORKS]: "short-lived" } });
    await waitPodReady(namespace, "pod");
    const added = [...(await nodeResidue(info))].filter((item) => !before.has(item));
    assert.ok(added.some((i) => i.startsWith("lease ") && i.includes("/short-lived/")), `no lease of the NAD: ${added.join(", ")}`);
    await kubectl(["delete", "network-attachment-definitions.k8s.cni.cncf.io", "short-lived"], { namespace });
    await deletePod(namespace, "pod");
    await expectGoneFromNode(info, added);
  });

  test("NPWG-28 kubelet's port mappings reach the cluster network only, not a NAD that also chains portmap", async (t) => {
    const info = node();
    const namespace = await createNamespace(t);
    await createNad(namespace, "bridge-pm", {
      cniVersion: "1.0.0",
      plugins: [
        { type: "bridge", bridge: "mynet8", ipam: { type: "host-local", subnet: "10.17.0.0/24", dataDir: join(info.stateDir, "ipam") } },
        { type: "portmap", capabilities: { portMappings: true } },
      ],
    });
    await createPod({ namespace, name: "pod", annotations: { [NETWORKS]: "bridge-pm" }, ports: [{ containerPort: 8080, hostPort: 18080 }] });
    await waitPodReady(namespace, "pod");
    const status = await networkStatus(namespace, "pod");
    const eth0Ip = status.find((s) => s.interface === "eth0")?.ips[0];
    const net1Ip = status.find((s) => s.interface === "net1")?.ips[0];
    assert.ok(eth0Ip !== undefined && net1Ip !== undefined, JSON.stringify(status));
    const dnat = (await nodeNatRules(info)).filter((rule) => rule.includes("--to-destination"));
    assert.ok(dnat.some((rule) => rule.includes(`${eth0Ip}:8080`) && rule.includes("18080")), `no DNAT to ${eth0Ip}:8080:\n${dnat.join("\n")}`);
    assert.ok(!dnat.some((rule) => rule.includes(net1Ip)), `a DNAT rule targets net1 (${net1Ip}):\n${dnat.join("\n")}`);
  });

  test("CNI-R-09 the libcni result cache containerd (Go) writes for multus is read as written, and re-encoded byte for byte", async (t) => {
    const info = node();
    const namespace = await createNamespace(t);
    await createPod({ namespace, name: "pod", annotations: { [NETWORKS]: "" }, ports: [{ containerPort: 8080, hostPort: 18081 }] });
    await waitPodReady(namespace, "pod");
    const { id } = await podSandbox(info, namespace, "pod");
    // containerd 1.6 keeps libcni's default cache directory, /var/lib/cni/results: the node's, which
    // node.sh binds from $node/var-lib-cni in the node's mount namespace.
    const name = `multus-cni-network-${id}-eth0`;
    const text = await readFile(join(info.stateDir, "var-lib-cni", "results", name), "utf8");
    const got = decodeCacheEntry(text);
    if (got.state !== "ok") assert.fail(`containerd's cache entry is ${got.state}: ${text.slice(0, 200)}`);
    assert.equal(got.entry.containerId, id);
    assert.equal(got.entry.networkName, "multus-cni-network");
    assert.equal(encodeCacheEntry(got.entry), text, "our encoder writes what Go's encoding/json wrote");
    assert.deepEqual(got.entry.capabilityArgs?.["portMappings"], [{ HostPort: 18081, ContainerPort: 8080, Protocol: "tcp", HostIP: "" }], "Go-capitalised keys, the protocol as containerd writes it");
    assert.deepEqual(got.entry.cniArgs?.map(([k]) => k).sort(), ["IgnoreUnknown", "K8S_POD_INFRA_CONTAINER_ID", "K8S_POD_NAME", "K8S_POD_NAMESPACE", "K8S_POD_UID"]);
    const capture = process.env["MULTUS_TS_CAPTURE_FIXTURES"];
    if (capture !== undefined && capture !== "") {
      // How test/fixtures/cache/containerd/ was made (see its README.md).
      await mkdir(join(capture, "results"), { recursive: true });
      await writeFile(join(capture, "results", name), text);
      t.diagnostic(`captured ${name} into ${capture}`);
    }
  });

  test("NPWG-05 a Deployment's pods, scheduled and created by the controllers, get the cluster network and the NAD", async (t) => {
    const info = node();
    const namespace = await createNamespace(t);
    await createNad(namespace, "bridge", bridgeConfig(info, "mynet7", "10.16.0.0/24"));
    await applyYaml(
      JSON.stringify({
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "web", namespace },
        spec: {
          replicas: 2,
          selector: { matchLabels: { app: "web" } },
          template: {
            metadata: { labels: { app: "web" }, annotations: { [NETWORKS]: "bridge" } },
            spec: {
              dnsPolicy: "Default",
              terminationGracePeriodSeconds: 2,
              containers: [{ name: "main", image: BUSYBOX, imagePullPolicy: "Never", command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"] }],
            },
          },
        },
      }),
    );
    await kubectl(["rollout", "status", "deployment/web", "--timeout=90s"], { namespace, timeoutMs: 100_000 });
    const names = (await kubectl(["get", "pods", "-l", "app=web", "-o", "jsonpath={.items[*].metadata.name}"], { namespace })).trim().split(/\s+/);
    assert.equal(names.length, 2);
    const net1Ips: string[] = [];
    for (const name of names) {
      const net1 = (await podInterfaces(namespace, name)).find((i) => i.name === "net1");
      assert.ok(net1?.ips[0] !== undefined, `${name} has no net1 address`);
      net1Ips.push(net1.ips[0]);
    }
    assert.notEqual(net1Ips[0], net1Ips[1]);
  });

  test("NPWG-02 NPWG-25 a pod naming a missing NAD waits in ContainerCreating, says so, and starts once the NAD exists", async (t) => {
    const info = node();
    const namespace = await createNamespace(t);
    await createPod({ namespace, name: "pod", annotations: { [NETWORKS]: "late-net" } });
    let events: string[] = [];
    const named = await eventually(async () => {
      events = await eventMessages(namespace, "pod");
      return events.some((e) => e.includes("late-net"));
    }, 60_000);
    assert.ok(named, `no event names the NAD late-net: ${events.join(" | ")}`);
    // The event can land before the kubelet writes the container's waiting reason (thick mode answers
    // the failed ADD, and sends its event, within milliseconds): wait for the status to catch up.
    let state = "";
    await eventually(async () => (state = await podPhaseAndWaiting(namespace, "pod")) === "Pending/ContainerCreating", 20_000);
    assert.equal(state, "Pending/ContainerCreating");
    await createNad(namespace, "late-net", bridgeConfig(info, "mynet6", "10.15.0.0/24"));
    // kubelet retries the sandbox with a back-off; give it room.
    await waitPodReady(namespace, "pod", 120);
    const names = (await podInterfaces(namespace, "pod")).map((i) => i.name).sort();
    assert.deepEqual(names, ["eth0", "lo", "net1"]);
    await kubectl(["delete", "pod", "pod", "--wait=false"], { namespace });
  });
});

/** What the pod added to the node (veths, leases, records) must all go once the pod is deleted. */
async function expectGoneFromNode(info: ReturnType<typeof node>, added: readonly string[]): Promise<void> {
  let left: string[] = [];
  const clean = await eventually(async () => {
    const now = await nodeResidue(info);
    left = added.filter((item) => now.has(item));
    return left.length === 0;
  }, 30_000);
  assert.ok(clean, `left on the node after the pod was deleted: ${left.join(", ")}`);
}
