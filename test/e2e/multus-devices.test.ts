// Seed 000's SR-IOV pods and the device errors, end to end on the real node (which parts are real:
// test/e2e/devices-rig.ts). The kubelet allocates our test device plugin's VFs to the pods, records
// them in its checkpoint and answers PodResources; Multus finds them there, gives each network its
// VF (deviceID), copies the device plugin's device-info file (DI-02 → DI-03) and reports it in
// network-status; sriov-cni's stand-in moves the VF's netdev into the pod.
import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import { applyYaml, kubectl, run, tryKubectl } from "../cluster/harness.ts";
import { TestDevicePlugin } from "../devices/device-plugin.ts";
import { deviceName, TestDraPlugin } from "../devices/dra-plugin.ts";
import { createDeviceRig, DRA_PF, DRA_RESOURCE, NETDEVICE_RESOURCE, NETDEVICE_VFS, PF, VFIO_RESOURCE, VFIO_VFS, type DeviceRig } from "./devices-rig.ts";
import {
  BUSYBOX,
  NODE_NAME,
  createNamespace,
  createPod,
  eventMessages,
  eventually,
  nodeLinks,
  nodeResidue,
  podInterfaces,
  podObject,
  podPhaseAndWaiting,
  podSandbox,
  useNode,
  waitPodReady,
} from "./node-harness.ts";

const node = useNode();
const NETWORKS = "k8s.v1.cni.cncf.io/networks";

/** The fake VFs, their sysfs tree and the sriov-cni stand-in, for both suites below. */
let rig: DeviceRig | undefined;
const plugins: TestDevicePlugin[] = [];

/** Seed 000's SR-IOV NAD: type sriov, the resourceName annotation, host-local leases in the node's state. */
async function sriovNad(namespace: string, name: string, resourceName: string, subnet: string): Promise<void> {
  await applyYaml(
    JSON.stringify({
      apiVersion: "k8s.cni.cncf.io/v1",
      kind: "NetworkAttachmentDefinition",
      metadata: { name, namespace, annotations: { "k8s.v1.cni.cncf.io/resourceName": resourceName } },
      spec: {
        config: JSON.stringify({
          cniVersion: "1.0.0",
          name,
          type: "sriov",
          vlan: 0,
          spoofchk: "on",
          trust: "on",
          ipam: { type: "host-local", subnet, dataDir: join(node().stateDir, "ipam") },
        }),
      },
    }),
  );
}

async function sriovPod(namespace: string, name: string, networks: string, resources: Record<string, number>): Promise<void> {
  await createPod({ namespace, name, annotations: { [NETWORKS]: networks }, resources });
}

interface StatusEntry {
  name: string;
  interface?: string;
  ips?: string[];
  "device-info"?: { type: string; version: string; pci?: { "pci-address": string } };
}

async function rawNetworkStatus(namespace: string, name: string): Promise<StatusEntry[]> {
  const pod = await podObject(namespace, name);
  const text = (pod["metadata"] as { annotations?: Record<string, string> }).annotations?.["k8s.v1.cni.cncf.io/network-status"];
  assert.ok(text !== undefined, "network-status is written");
  return JSON.parse(text) as StatusEntry[];
}

/** A file of examples/, applied unchanged. */
function example(path: string): string {
  return fileURLToPath(new URL(`../../examples/${path}`, import.meta.url));
}

/** host-local leases of a network in the node's default data dir (/var/lib/cni/networks). */
function leasesOf(network: string, prefix: string): string[] {
  const dir = join(node().stateDir, "var-lib-cni", "networks", network);
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.startsWith(prefix)) : [];
}

function cniInfoFiles(): string[] {
  const dir = join(node().stateDir, "devinfo", "cni");
  return existsSync(dir) ? readdirSync(dir) : [];
}

async function vfsInNodeNetns(): Promise<string[]> {
  const names = new Set((await nodeLinks(node())).map((l) => l.name));
  return ["mtvf0", "mtvf1", "mtvf2", "mtvf3"].filter((n) => names.has(n));
}

/** Link name → MAC in the node's namespace. */
async function linkMacs(): Promise<[string, string][]> {
  const r = await run("ip", ["-json", "-netns", node().netns, "link", "show"]);
  assert.equal(r.code, 0, r.stderr);
  const links = JSON.parse(r.stdout) as { ifname: string; address?: string }[];
  return links.flatMap((l) => (l.address === undefined ? [] : [[l.ifname, l.address] as [string, string]]));
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

function sameSet(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  return a.size === b.size && [...a].every((x) => b.has(x));
}

async function deleteAndWaitGone(namespace: string, name: string): Promise<void> {
  // The examples' `sleep 3600` ignores SIGTERM: no grace period to wait out.
  await kubectl(["delete", "pod", name, "--grace-period=1", "--wait=true", "--timeout=60s"], { namespace, timeoutMs: 75_000 });
}

describe(`device-backed networks on the real node (${process.env["MULTUS_TS_NODE_MODE"] === "thick" ? "thick" : "thin"} mode)`, () => {
  before(async () => {
    rig = await createDeviceRig(node());
  });
  after(async () => {
    await rig?.remove();
  });

describe("seed 000: SR-IOV pods with the kubelet's device plugin devices", () => {
  before(async () => {
    const pluginDir = join(node().stateDir, "device-plugins");
    const deviceInfoDir = join(node().stateDir, "devinfo");
    plugins.push(new TestDevicePlugin({ pluginDir, resourceName: NETDEVICE_RESOURCE, devices: NETDEVICE_VFS, deviceInfoDir }));
    plugins.push(new TestDevicePlugin({ pluginDir, resourceName: VFIO_RESOURCE, devices: VFIO_VFS, deviceInfoDir }));
    for (const p of plugins) await p.start();
    // The kubelet publishes the resources at its next node status update.
    const advertised = await eventually(async () => {
      const allocatable = JSON.parse(await kubectl(["get", "node", NODE_NAME, "-o", "jsonpath={.status.allocatable}"])) as Record<string, string>;
      return allocatable[NETDEVICE_RESOURCE] === String(NETDEVICE_VFS.length) && allocatable[VFIO_RESOURCE] === String(VFIO_VFS.length);
    }, 60_000);
    assert.ok(advertised, "the node's allocatable lists both test resources");
  });

  after(async () => {
    for (const p of plugins) await p.stop();
  });

  test("DI-02 DI-03 test-sriov: net1 is the VF the kubelet allocated, network-status carries its device-info, deleting the pod returns the VF and removes the file", async (t) => {
    const namespace = await createNamespace(t);
    // Seed 000's manifests as a user applies them.
    const before = plugins[0]?.allocations.length ?? 0;
    await kubectl(["apply", "-f", example("seed-000-sriov/sriov-nad.yaml"), "-f", example("seed-000-sriov/pod.yaml")], { namespace });
    await waitPodReady(namespace, "test-sriov");

    const given = plugins[0]?.allocations.slice(before).flat() ?? [];
    assert.equal(given.length, 1, "the kubelet allocated one VF through the device plugin's Allocate");
    const vf = given[0] ?? "";
    const status = await rawNetworkStatus(namespace, "test-sriov");
    const net1 = status.find((s) => s.interface === "net1");
    assert.ok(net1 !== undefined, `network-status has net1: ${JSON.stringify(status)}`);
    assert.equal(net1.name, `${namespace}/sriov-net`);
    assert.deepEqual(net1["device-info"], { type: "pci", version: "1.1.0", pci: { "pci-address": vf } }, "DI-03: the device plugin's file, read back after the ADD");
    assert.ok(net1.ips?.[0]?.startsWith("10.56.217."), "IPAM ran on the VF's network");

    const inPod = await podInterfaces(namespace, "test-sriov");
    assert.ok(inPod.some((i) => i.name === "net1" && i.ips.some((a) => a.startsWith("10.56.217."))), "the VF netdev is net1 in the pod, with its address");
    const index = NETDEVICE_VFS.indexOf(vf);
    assert.ok(!(await vfsInNodeNetns()).includes(`mtvf${String(index)}`), "the VF's netdev left the node's namespace");
    assert.equal(cniInfoFiles().filter((f) => f.startsWith("sriov-net-")).length, 1, "DI-03: one per-attachment device-info file while the pod runs");

    await deleteAndWaitGone(namespace, "test-sriov");
    assert.ok(await eventually(async () => (await vfsInNodeNetns()).includes(`mtvf${String(index)}`), 30_000), "the VF is back in the node's namespace");
    assert.deepEqual(cniInfoFiles().filter((f) => f.startsWith("sriov-net-")), [], "DI-03: the file is gone after DEL");
    assert.deepEqual(leasesOf("sriov-net", "10.56.217."), [], "the lease is released");
  });

  test("DI-03 test-sriov-dpdk: vfioveth describes the vfio VF with a veth pair (its MAC, IP and PCI address); the vfio device node itself cannot exist here", async (t) => {
    const namespace = await createNamespace(t);
    const info = node();
    await applyYaml(
      JSON.stringify({
        apiVersion: "k8s.cni.cncf.io/v1",
        kind: "NetworkAttachmentDefinition",
        metadata: { name: "sriov-dpdk", namespace, annotations: { "k8s.v1.cni.cncf.io/resourceName": VFIO_RESOURCE } },
        spec: {
          config: JSON.stringify({
            cniVersion: "1.0.0",
            name: "sriov-dpdk",
            type: "vfioveth",
            // The fake sysfs (a real node leaves this out: /sys).
            sysfsRoot: rig?.sysfs,
            // This kernel has no SR-IOV PF to read the VF's MAC from (netlink vfinfo): the pod names one.
            capabilities: { mac: true },
            ipam: { type: "host-local", subnet: "10.56.220.0/24", dataDir: join(info.stateDir, "ipam") },
          }),
        },
      }),
    );
    const mac = "ca:fe:c0:ff:ee:01";
    const before = plugins[1]?.allocations.length ?? 0;
    await sriovPod(namespace, "test-sriov-dpdk", JSON.stringify([{ name: "sriov-dpdk", mac }]), { [VFIO_RESOURCE]: 1 });
    await waitPodReady(namespace, "test-sriov-dpdk");
    const vf = plugins[1]?.allocations.slice(before).flat()[0];
    assert.ok(vf !== undefined && VFIO_VFS.includes(vf), "the kubelet allocated a vfio VF");

    const sandbox = await podSandbox(info, namespace, "test-sriov-dpdk");
    // The sandbox netns is mounted in the node's mount namespace only (node.sh): enter that first.
    const shown = await run("nsenter", [`--mount=${join(info.stateDir, "ns", "mnt")}`, "--", "nsenter", `--net=${sandbox.netns}`, "ip", "-json", "-d", "link", "show"]);
    assert.equal(shown.code, 0, shown.stderr);
    const links = JSON.parse(shown.stdout) as { ifname: string; address?: string; ifalias?: string; operstate?: string; flags?: string[] }[];
    const net1 = links.find((l) => l.ifname === "net1");
    assert.ok(net1 !== undefined, `net1 is in the pod: ${shown.stdout}`);
    assert.equal(net1.address, mac, "net1 has the VF's MAC");
    assert.equal(net1.ifalias, vf, "net1's alias is the VF's PCI address");
    assert.ok(links.some((l) => l.ifname === "net1-vdev" && (l.flags ?? []).includes("UP")), "its peer net1-vdev is up beside it");
    const inPod = await podInterfaces(namespace, "test-sriov-dpdk");
    assert.ok(inPod.some((i) => i.name === "net1" && i.ips.some((a) => a.startsWith("10.56.220."))), "net1 carries the IPAM address");
    const status = await rawNetworkStatus(namespace, "test-sriov-dpdk");
    assert.equal(status.find((x) => x.interface === "net1")?.["device-info"]?.pci?.["pci-address"], vf, "network-status carries the VF's device-info");

    await deleteAndWaitGone(namespace, "test-sriov-dpdk");
    assert.deepEqual(cniInfoFiles().filter((f) => f.startsWith("sriov-dpdk-")), [], "the device-info file is gone");
    const leases = join(info.stateDir, "ipam", "sriov-dpdk");
    assert.deepEqual((existsSync(leases) ? readdirSync(leases) : []).filter((f) => f.startsWith("10.56.220.")), [], "the lease is released");
  });

  test("three networks sharing a resource take the three VFs the kubelet allocated, in PCI order", async (t) => {
    const namespace = await createNamespace(t);
    await sriovNad(namespace, "sriov-net", NETDEVICE_RESOURCE, "10.56.218.0/24");
    const before = plugins[0]?.allocations.length ?? 0;
    await sriovPod(namespace, "three-vfs", "sriov-net,sriov-net,sriov-net", { [NETDEVICE_RESOURCE]: 3 });
    await waitPodReady(namespace, "three-vfs");
    const allocated = plugins[0]?.allocations.slice(before).flat() ?? [];
    assert.equal(allocated.length, 3, "the kubelet allocated three VFs");
    const status = await rawNetworkStatus(namespace, "three-vfs");
    const ids = ["net1", "net2", "net3"].map((n) => status.find((s) => s.interface === n)?.["device-info"]?.pci?.["pci-address"]);
    assert.deepEqual(ids, [...allocated].sort(), "net1, net2, net3 get exactly the allocated VFs, lowest PCI address first");
    await deleteAndWaitGone(namespace, "three-vfs");
  });

  test("a pod selecting more networks of a resource than it requested fails with the clear error, before any delegate runs, and leaves nothing", async (t) => {
    const namespace = await createNamespace(t);
    await sriovNad(namespace, "sriov-net", NETDEVICE_RESOURCE, "10.56.219.0/24");
    const filesBefore = cniInfoFiles();
    await sriovPod(namespace, "too-many", "sriov-net,sriov-net", { [NETDEVICE_RESOURCE]: 1 });
    const want = /2 networks \("[^"]+\/sriov-net", "[^"]+\/sriov-net"\) need a device of resource "intel\.com\/sriov_netdevice" each, but the pod was given 1/;
    const failed = await eventually(async () => (await eventMessages(namespace, "too-many")).some((m) => want.test(m)), 60_000);
    assert.ok(failed, `the event names the networks, the resource and the count: ${(await eventMessages(namespace, "too-many")).join("\n")}`);
    assert.match(await podPhaseAndWaiting(namespace, "too-many"), /^Pending/);
    assert.deepEqual(cniInfoFiles(), filesBefore, "no device-info file");
    assert.equal((await vfsInNodeNetns()).length, 4, "no VF moved");
    const leases = join(node().stateDir, "ipam", "sriov-net");
    assert.deepEqual((existsSync(leases) ? readdirSync(leases) : []).filter((f) => f.startsWith("10.56.219.")), [], "no IP lease");
    await deleteAndWaitGone(namespace, "too-many");
  });

  test("a pod's deviceID must be a VF the kubelet gave it: another pod's VF, the PF or a VF of another resource is refused before any delegate runs; its own VF is used", async (t) => {
    const namespace = await createNamespace(t);
    const subnet = "10.56.221.";
    await sriovNad(namespace, "sriov-net", NETDEVICE_RESOURCE, `${subnet}0/24`);
    const dp = plugins[0];
    assert.ok(dp !== undefined);
    assert.equal((await vfsInNodeNetns()).length, 4, "all four VFs are free when the test starts");
    // A netdev keeps its MAC when sriov-cni moves it into a pod: the pod's net1 is shown to be that VF.
    const macOf = new Map((await linkMacs()).flatMap(([link, mac]) => PF.vfs.filter((v) => v.netdev === link).map((v) => [v.pci, mac] as const)));
    assert.equal(macOf.size, 4);

    // A pod holding two VFs: a VF that the kubelet gave another pod, to ask for; and exactly two left,
    // so that the last pod's selection can name one of its own VFs before the kubelet picks them (it
    // picks in no fixed order, at admission, after the annotation is written).
    let start = dp.allocations.length;
    await sriovPod(namespace, "holder", "sriov-net,sriov-net", { [NETDEVICE_RESOURCE]: 2 });
    await waitPodReady(namespace, "holder");
    const held = dp.allocations.slice(start).flat().sort();
    assert.equal(held.length, 2, "the kubelet allocated two VFs to the holder");
    const free = NETDEVICE_VFS.filter((v) => !held.includes(v));
    const holderVfs = async (): Promise<(string | undefined)[]> => {
      const links = await podInterfaces(namespace, "holder");
      return ["net1", "net2"].map((n) => links.find((l) => l.name === n)?.mac);
    };

    const refused = [
      { what: "a VF the kubelet gave another pod", deviceID: held[0] ?? "" },
      { what: "the PF", deviceID: PF.pci },
      { what: "a free VF of another resource", deviceID: VFIO_VFS[0] ?? "" },
    ];
    for (const [i, c] of refused.entries()) {
      const name = `picks-${String(i)}`;
      const residue = await nodeResidue(node());
      const infoFiles = cniInfoFiles();
      start = dp.allocations.length;
      await sriovPod(namespace, name, JSON.stringify([{ name: "sriov-net", deviceID: c.deviceID }]), { [NETDEVICE_RESOURCE]: 1 });
      assert.ok(await eventually(() => Promise.resolve(dp.allocations.length > start), 30_000), `${c.what}: the kubelet admitted the pod`);
      const own = dp.allocations[start] ?? [];
      assert.ok(own.length === 1 && own[0] !== undefined && free.includes(own[0]), `${c.what}: the kubelet gave the pod one free VF: ${JSON.stringify(own)}`);
      const want = new RegExp(
        `^(FailedCreatePodSandBox|NetworkAttachmentFailed): .*network "${escapeRegExp(`${namespace}/sriov-net`)}" \\(element 0\\) asks for device "${escapeRegExp(c.deviceID)}" of resource "${escapeRegExp(NETDEVICE_RESOURCE)}", but the kubelet gave the pod only ${escapeRegExp(own[0])} of that resource`,
      );
      const failed = await eventually(async () => (await eventMessages(namespace, name)).some((m) => want.test(m)), 60_000);
      assert.ok(failed, `${c.what}: the event names the device, the resource and the pod's own VF: ${(await eventMessages(namespace, name)).join("\n")}`);
      assert.match(await podPhaseAndWaiting(namespace, name), /^Pending/);
      assert.deepEqual(await vfsInNodeNetns(), free.map((v) => `mtvf${String(NETDEVICE_VFS.indexOf(v))}`), `${c.what}: no VF moved`);
      assert.deepEqual(cniInfoFiles(), infoFiles, `${c.what}: no device-info file`);
      // Leases (IPAM never ran), veths, Multus's records: as before the pod.
      assert.ok(await eventually(async () => sameSet(await nodeResidue(node()), residue), 10_000), `${c.what}: nothing left on the node`);
      await deleteAndWaitGone(namespace, name);
      assert.ok(await eventually(async () => sameSet(await nodeResidue(node()), residue), 10_000), `${c.what}: nothing left after the DEL`);
      assert.deepEqual(cniInfoFiles(), infoFiles, `${c.what}: still no device-info file`);
    }
    // PCI order: the holder's net1 has the lower of its two VFs.
    assert.deepEqual(await holderVfs(), held.map((v) => macOf.get(v)), "the holder still has its two VFs");

    // Its own VF: net1 names the second of the two VFs the pod will be given, which PCI order alone would give net2.
    const [lower, upper] = free;
    assert.ok(lower !== undefined && upper !== undefined);
    start = dp.allocations.length;
    await sriovPod(namespace, "own-vf", JSON.stringify([{ name: "sriov-net", deviceID: upper }, { name: "sriov-net" }]), { [NETDEVICE_RESOURCE]: 2 });
    await waitPodReady(namespace, "own-vf");
    assert.deepEqual(dp.allocations.slice(start).flat().sort(), free, "the kubelet gave the pod the two VFs the holder left");
    const status = await rawNetworkStatus(namespace, "own-vf");
    const pciOf = (ifName: string): string | undefined => status.find((s) => s.interface === ifName)?.["device-info"]?.pci?.["pci-address"];
    assert.equal(pciOf("net1"), upper, `net1 is the VF its selection names: ${JSON.stringify(status)}`);
    assert.equal(pciOf("net2"), lower, "net2 gets the pod's other VF");
    const inPod = await podInterfaces(namespace, "own-vf");
    for (const [ifName, vf] of [["net1", upper], ["net2", lower]] as const) {
      const link = inPod.find((l) => l.name === ifName);
      assert.ok(link !== undefined, `${ifName} is in the pod: ${JSON.stringify(inPod)}`);
      assert.equal(link.mac, macOf.get(vf), `${ifName} in the pod is ${vf}'s netdev`);
      assert.ok(link.ips.some((a) => a.startsWith(subnet)), `${ifName} has its address`);
    }
    assert.deepEqual(await vfsInNodeNetns(), [], "all four VFs are in the two pods");
    assert.equal(cniInfoFiles().filter((f) => f.startsWith("sriov-net-")).length, 4, "DI-03: a device-info file per attachment");

    await deleteAndWaitGone(namespace, "own-vf");
    await deleteAndWaitGone(namespace, "holder");
    assert.ok(await eventually(async () => (await vfsInNodeNetns()).length === 4, 30_000), "the VFs are back in the node's namespace");
    assert.deepEqual(cniInfoFiles().filter((f) => f.startsWith("sriov-net-")), [], "no device-info file is left");
    const leases = join(node().stateDir, "ipam", "sriov-net");
    assert.deepEqual((existsSync(leases) ? readdirSync(leases) : []).filter((f) => f.startsWith(subnet)), [], "the leases are released");
  });
});


describe("seed 001: two VFs from a DRA claim, allocated by the real scheduler and prepared by the real kubelet", () => {
  const DRIVER = "sriov.test.k8s.cni.cncf.io";
  let dra: TestDraPlugin | undefined;

  before(async () => {
    const info = node();
    dra = new TestDraPlugin({
      kubeletRootDir: join(info.stateDir, "kubelet"),
      driver: DRIVER,
      nodeName: NODE_NAME,
      devices: DRA_PF.vfs.map((v) => ({ pci: v.pci, resourceName: DRA_RESOURCE })),
      deviceInfoDir: join(info.stateDir, "devinfo"),
    });
    await dra.start();
    assert.ok(await eventually(() => Promise.resolve(dra?.registered === true), 30_000), "the kubelet registered the DRA plugin");
    // The seed's class name and ours, both selecting the test driver's devices.
    for (const name of ["sriovnetwork.openshift.io", DRIVER]) {
      await applyYaml(JSON.stringify({ apiVersion: "resource.k8s.io/v1", kind: "DeviceClass", metadata: { name }, spec: { selectors: [{ cel: { expression: `device.driver == '${DRIVER}'` } }] } }));
    }
  });

  after(async () => {
    await dra?.stop();
    await kubectl(["delete", "deviceclass", "sriovnetwork.openshift.io", DRIVER, "--ignore-not-found"]);
  });

  const draVfs = DRA_PF.vfs.map((v) => v.pci);
  const draNetdevs = async (): Promise<string[]> => {
    const names = new Set((await nodeLinks(node())).map((l) => l.name));
    return DRA_PF.vfs.flatMap((v) => (v.netdev !== undefined && names.has(v.netdev) ? [v.netdev] : []));
  };

  async function deviceIdsOf(namespace: string, name: string, ifNames: string[]): Promise<string[]> {
    const status = await rawNetworkStatus(namespace, name);
    return ifNames.map((n) => {
      const id = status.find((s) => s.interface === n)?.["device-info"]?.pci?.["pci-address"];
      assert.ok(id !== undefined, `${n} reports its device: ${JSON.stringify(status)}`);
      return id;
    });
  }

  test("seed 001 as a Deployment: vf-test1,vf-test1 with a count-2 claim template gives net1 and net2 on distinct VFs in PCI order; the JSON form gives dataplane1 and dataplane2; deleting them returns the VFs and their files", async (t) => {
    const namespace = await createNamespace(t);
    // Seed 001's manifests as a user applies them (the NAD's resourceName `sriov/vf` = the pod's claim
    // `sriov`, its request `vf`; the claim template's class is the seed's `sriovnetwork.openshift.io`).
    await kubectl(["apply", "-f", example("seed-001-dra/nad.yaml"), "-f", example("seed-001-dra/claim-template.yaml"), "-f", example("seed-001-dra/deployment.yaml")], { namespace });
    await kubectl(["rollout", "status", "deployment/pod0", "--timeout=90s"], { namespace, timeoutMs: 105_000 });
    const name = (await kubectl(["get", "pods", "-l", "app=pod0", "-o", "jsonpath={.items[0].metadata.name}"], { namespace })).trim();
    const ids = await deviceIdsOf(namespace, name, ["net1", "net2"]);
    // What the scheduler allocated to the pod's claim, by the driver's device names.
    const claimName = (await kubectl(["get", "pod", name, "-o", "jsonpath={.status.resourceClaimStatuses[0].resourceClaimName}"], { namespace })).trim();
    const claim = JSON.parse(await kubectl(["get", "resourceclaim", claimName, "-o", "json"], { namespace })) as { status: { allocation: { devices: { results: { device: string }[] } } } };
    const allocated = claim.status.allocation.devices.results.map((r) => DRA_PF.vfs.find((v) => deviceName(v.pci) === r.device)?.pci ?? r.device);
    assert.deepEqual(ids, [...allocated].sort(), "net1 and net2 are the claim's two VFs, lowest PCI address first");
    for (const id of ids) assert.ok(draVfs.includes(id), `${id} is one of the DRA driver's VFs`);
    const interfaces = await podInterfaces(namespace, name);
    for (const n of ["net1", "net2"]) assert.ok(interfaces.some((i) => i.name === n && i.ips.some((a) => a.startsWith("10.0.2."))), `${n} is in the pod with an address`);
    assert.equal((await draNetdevs()).length, 2, "two VF netdevs left the node's namespace");

    // The JSON form with custom names, beside it (the driver has four VFs).
    await kubectl(["apply", "-f", example("seed-001-dra/json-interface-names.yaml")], { namespace });
    await waitPodReady(namespace, "pod-dataplane");
    const named = await deviceIdsOf(namespace, "pod-dataplane", ["dataplane1", "dataplane2"]);
    assert.deepEqual([...named].sort(), named, "dataplane1 has the lower PCI address");
    assert.equal(new Set([...ids, ...named]).size, 4, "four distinct VFs for the two pods");
    assert.equal((await draNetdevs()).length, 0, "all four VF netdevs are in pods");

    await kubectl(["delete", "deployment", "pod0", "--wait=true"], { namespace });
    await deleteAndWaitGone(namespace, "pod-dataplane");
    assert.ok(await eventually(async () => (await tryKubectl(["get", "pod", name], { namespace })).code !== 0, 60_000), "the pod is gone");
    assert.ok(await eventually(async () => (await draNetdevs()).length === 4, 30_000), "all VFs are back in the node's namespace");
    assert.deepEqual(cniInfoFiles().filter((f) => f.startsWith("vf-test1-")), [], "no device-info file is left");
    assert.deepEqual(leasesOf("vf-test1", "10.0.2."), [], "the leases are released");
  });

  test("a claim named directly (resourceClaimName, which upstream misses), the NAD naming the devices' resourceName attribute, custom interface names", async (t) => {
    const namespace = await createNamespace(t);
    await sriovNad(namespace, "vf-data", DRA_RESOURCE, "10.0.3.0/24");
    await applyYaml(
      JSON.stringify({
        apiVersion: "resource.k8s.io/v1",
        kind: "ResourceClaim",
        metadata: { name: "two-vfs", namespace },
        spec: { devices: { requests: [{ name: "vf", exactly: { deviceClassName: DRIVER, count: 2 } }] } },
      }),
    );
    await applyYaml(
      JSON.stringify({
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "direct", namespace, annotations: { [NETWORKS]: JSON.stringify([{ name: "vf-data", interface: "dataplane1" }, { name: "vf-data", interface: "dataplane2" }]) } },
        spec: {
          automountServiceAccountToken: false,
          dnsPolicy: "Default",
          terminationGracePeriodSeconds: 2,
          resourceClaims: [{ name: "vfs", resourceClaimName: "two-vfs" }],
          containers: [
            { name: "main", image: BUSYBOX, imagePullPolicy: "Never", command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"], resources: { claims: [{ name: "vfs" }] } },
          ],
        },
      }),
    );
    await waitPodReady(namespace, "direct");
    const ids = await deviceIdsOf(namespace, "direct", ["dataplane1", "dataplane2"]);
    assert.notEqual(ids[0], ids[1]);
    assert.deepEqual([...ids].sort(), ids, "dataplane1 has the lower PCI address");
    const interfaces = await podInterfaces(namespace, "direct");
    for (const n of ["dataplane1", "dataplane2"]) assert.ok(interfaces.some((i) => i.name === n), `${n} is in the pod`);
    await deleteAndWaitGone(namespace, "direct");
    assert.ok(await eventually(async () => (await draNetdevs()).length === 4, 30_000), "both VFs are back");
    assert.deepEqual(cniInfoFiles().filter((f) => f.startsWith("vf-data-")), [], "no device-info file is left");
  });
});
});
