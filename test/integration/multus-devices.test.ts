// Devices through dist/bin/multus (thin), against the real kube-apiserver: which devices a pod got
// (PodResources Get, its List fallback, the kubelet checkpoint, DRA claims), the errors when they
// cannot be found, device-info files (DI-01…03) and their removal, also after kill -9. Real: the
// API server with our RBAC, dist/bin/multus, the reference IPAM plugin, `ip` moving netdevs between
// namespaces the test creates. Stood in for, as no kubelet runs here: the PodResources server (grpc-js
// serving the kubelet's proto, so our own client meets an independent gRPC implementation), the
// checkpoint file (written in the kubelet's format), the VFs (veth ends in the node namespace named by
// a fake sysfs tree) and sriov-cni (test/devices/sriov-test-cni.ts). The e2e suite runs the same
// paths with the real kubelet (test/e2e/multus-devices.test.ts).
import assert from "node:assert/strict";
import { existsSync, readdirSync, statSync } from "node:fs";
import { chmod, copyFile, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, beforeEach, describe, test, type TestContext } from "node:test";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { applyYaml, createNamespace, kubectl, useCluster } from "../cluster/harness.ts";
import { createFakeSriovTree } from "../devices/fake-sysfs.ts";
import { TestPodResourcesServer } from "../devices/pod-resources-server.ts";
import { FakePluginDir } from "../helpers/fake-plugin.ts";
import { useKubeBed, type KubeBed, type TestPod } from "../helpers/kube-bed.ts";
import { execInNetns } from "../helpers/netns.ts";
import { stdoutJson } from "../helpers/run-executable.ts";

const cluster = useCluster();
const RESOURCE = "intel.com/sriov_netdevice";
const VFS = ["0000:3b:02.0", "0000:3b:02.1", "0000:3b:02.2"];
const state = join(tmpdir(), `mt-devices-${String(process.pid)}`);
const paths = {
  socket: join(state, "pod-resources.sock"),
  checkpoint: join(state, "kubelet_internal_checkpoint"),
  deviceInfoDir: join(state, "devinfo"),
  sysfs: join(state, "sysfs"),
  bin: join(state, "bin"),
};

const useBed = useKubeBed(cluster, {
  mode: "thin",
  // The VFs' netdevs, in the node namespace before the bed takes its snapshot.
  prepareNode: async (node) => {
    for (const [i] of VFS.entries()) await execInNetns(node.name, ["ip", "link", "add", `mtvf${String(i)}`, "type", "veth", "peer", "name", `mtvf${String(i)}p`]);
  },
});
let bed: KubeBed;
let podResources: TestPodResourcesServer;
let fakes: FakePluginDir;

before(async () => {
  await rm(state, { recursive: true, force: true });
  await mkdir(paths.bin, { recursive: true });
  await createFakeSriovTree(paths.sysfs, [{ pci: "0000:3b:00.0", netdev: "mtpf0", vfs: VFS.map((pci, i) => ({ pci, driver: "iavf" as const, netdev: `mtvf${String(i)}` })) }]);
  const script = fileURLToPath(new URL("../devices/sriov-test-cni.ts", import.meta.url));
  await writeFile(join(paths.bin, "sriov"), `#!/bin/sh\nSRIOV_TEST_SYSFS='${paths.sysfs}' SRIOV_TEST_STATE='${join(state, "sriov-state")}' exec '${process.execPath}' '${script}' "$@"\n`);
  await chmod(join(paths.bin, "sriov"), 0o755);
  podResources = new TestPodResourcesServer(paths.socket);
  await podResources.start();
  fakes = await FakePluginDir.create();
});

after(async () => {
  podResources.stop();
  await fakes.remove();
  await rm(state, { recursive: true, force: true });
});

beforeEach(async () => {
  bed = useBed();
  podResources.pods.length = 0;
  podResources.getDisabled = false;
  podResources.calls.Get = 0;
  podResources.calls.List = 0;
  await rm(paths.deviceInfoDir, { recursive: true, force: true });
  await rm(paths.checkpoint, { force: true });
});

/** The Multus config with the device paths; plugins from the test's bin dir first, then the reference ones. */
function conf(extra: Record<string, unknown> = {}): string {
  return bed.conf({ podResourcesSocket: paths.socket, deviceCheckpointFile: paths.checkpoint, deviceInfoDir: paths.deviceInfoDir, binDir: paths.bin, ...extra });
}

async function sriovNad(namespace: string, name: string, resource: string, subnet: string, extra: Record<string, unknown> = {}): Promise<void> {
  await applyYaml(
    JSON.stringify({
      apiVersion: "k8s.cni.cncf.io/v1",
      kind: "NetworkAttachmentDefinition",
      metadata: { name, namespace, annotations: { "k8s.v1.cni.cncf.io/resourceName": resource } },
      spec: { config: JSON.stringify({ cniVersion: "1.0.0", name, type: "sriov", ipam: { type: "host-local", subnet, dataDir: bed.ipamDir }, ...extra }) },
    }),
  );
}

async function writeDpInfo(resource: string, id: string, content: unknown): Promise<void> {
  const dir = join(paths.deviceInfoDir, "dp");
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, `${resource.replaceAll("/", "-")}-${id}-device.json`), JSON.stringify(content));
}

function cniInfoFiles(): string[] {
  const dir = join(paths.deviceInfoDir, "cni");
  return existsSync(dir) ? readdirSync(dir) : [];
}

interface RawStatus {
  name: string;
  interface?: string;
  "device-info"?: unknown;
}

async function rawStatus(p: TestPod): Promise<RawStatus[]> {
  const raw = await kubectl(["get", "pod", "-n", p.namespace, p.name, "-o", "jsonpath={.metadata.annotations.k8s\\.v1\\.cni\\.cncf\\.io/network-status}"]);
  return JSON.parse(raw) as RawStatus[];
}

async function addOk(p: TestPod, c = conf()): Promise<void> {
  const add = await bed.cni("ADD", p, { conf: c });
  assert.equal(add.code, 0, `ADD: ${add.stdout}${add.stderr}`);
}

async function delOk(p: TestPod, c = conf()): Promise<void> {
  const del = await bed.cni("DEL", p, { conf: c });
  assert.equal(del.code, 0, `DEL: ${del.stdout}${del.stderr}`);
}

async function expectError(t: TestContext, p: TestPod, message: RegExp): Promise<void> {
  const add = await bed.cni("ADD", p, { conf: conf() });
  assert.equal(add.code, 1, `ADD should fail: ${add.stdout}`);
  const err = stdoutJson(add);
  assert.equal(err["code"], 103, "MULTUS_ERR_DEVICE");
  assert.match(String(err["msg"]), message);
  t.diagnostic(String(err["msg"]));
  assert.deepEqual(await bed.residue(p), [], "nothing is left");
  assert.deepEqual(cniInfoFiles(), [], "no device-info file");
  await delOk(p);
}

describe("devices of a pod, through dist/bin/multus (thin mode)", () => {
  test("DI-01 DI-02 DI-03 PodResources Get: the pod's VF goes to its network, the device plugin's file is copied read-only and reported, and DEL removes it", async (t) => {
    const ns = await createNamespace(t);
    await sriovNad(ns, "sriov-net", RESOURCE, "10.61.0.0/24");
    const p = await bed.createPod(ns, "sriov-net");
    podResources.pods.push({ namespace: ns, name: p.name, containers: { main: { [RESOURCE]: ["0000:3b:02.1"] } } });
    const info = { type: "pci", version: "1.1.0", pci: { "pci-address": "0000:3b:02.1", "pf-pci-address": "0000:3b:00.0" } };
    await writeDpInfo(RESOURCE, "0000:3b:02.1", info);
    await addOk(p);
    assert.equal(podResources.calls.Get, 1, "one Get for the pod");
    assert.equal(podResources.calls.List, 0, "no List of every pod on the node");
    assert.ok((await bed.podInterfaces(p)).has("net1"), "the VF's netdev is net1 in the pod");
    const net1 = (await rawStatus(p)).find((s) => s.interface === "net1");
    assert.deepEqual(net1?.["device-info"], info, "DI-01: a valid device-info object, carried into network-status");
    const files = cniInfoFiles();
    assert.deepEqual(files, [`sriov-net-${p.containerId}_net1-device.json`], "DI-03: <network>-<containerID>_<ifname>-device.json");
    assert.equal(statSync(join(paths.deviceInfoDir, "cni", files[0] ?? "")).mode & 0o777, 0o444, "read-only, as nad-client writes it");
    await delOk(p);
    assert.deepEqual(cniInfoFiles(), [], "DI-03: deleted on DEL");
    assert.deepEqual(await bed.residue(p), []);
  });

  test("DI-01 a device-info file that is not valid device-info is left out of network-status; the attachment stands", async (t) => {
    const ns = await createNamespace(t);
    await sriovNad(ns, "sriov-net", RESOURCE, "10.61.1.0/24");
    const p = await bed.createPod(ns, "sriov-net");
    podResources.pods.push({ namespace: ns, name: p.name, containers: { main: { [RESOURCE]: ["0000:3b:02.0"] } } });
    await writeDpInfo(RESOURCE, "0000:3b:02.0", { type: "pci", version: "1.1.0", pci: {} });
    await addOk(p);
    const net1 = (await rawStatus(p)).find((s) => s.interface === "net1");
    assert.ok(net1 !== undefined && !("device-info" in net1), "no device-info for a file without pci-address");
    await delOk(p);
    assert.deepEqual(await bed.residue(p), []);
  });

  test("two networks of one resource get the pod's devices sorted (PCI order), whatever order the kubelet lists them in; Get disabled falls back to List", async (t) => {
    const ns = await createNamespace(t);
    await sriovNad(ns, "sriov-net", RESOURCE, "10.61.2.0/24");
    const p = await bed.createPod(ns, "sriov-net,sriov-net");
    podResources.getDisabled = true;
    podResources.pods.push({ namespace: ns, name: "someone-else", containers: { c: { [RESOURCE]: ["0000:3b:02.0"] } } });
    podResources.pods.push({ namespace: ns, name: p.name, containers: { a: { [RESOURCE]: ["0000:3b:02.2"] }, b: { [RESOURCE]: ["0000:3b:02.1"] } } });
    await writeDpInfo(RESOURCE, "0000:3b:02.1", { type: "pci", version: "1.1.0", pci: { "pci-address": "0000:3b:02.1" } });
    await writeDpInfo(RESOURCE, "0000:3b:02.2", { type: "pci", version: "1.1.0", pci: { "pci-address": "0000:3b:02.2" } });
    await addOk(p);
    assert.equal(podResources.calls.List, 1, "List answered once Get was refused");
    const status = await rawStatus(p);
    const id = (ifName: string): unknown => (status.find((s) => s.interface === ifName)?.["device-info"] as { pci?: Record<string, string> } | undefined)?.pci?.["pci-address"];
    assert.equal(id("net1"), "0000:3b:02.1");
    assert.equal(id("net2"), "0000:3b:02.2");
    await delOk(p);
    assert.deepEqual(cniInfoFiles(), []);
    assert.deepEqual(await bed.residue(p), []);
  });

  test("PodResources unreachable: the device manager's checkpoint, with either DeviceIDs shape", async (t) => {
    const ns = await createNamespace(t);
    await sriovNad(ns, "sriov-net", RESOURCE, "10.61.3.0/24");
    const a = await bed.createPod(ns, "sriov-net", "numa");
    const b = await bed.createPod(ns, "sriov-net", "plain");
    await writeFile(
      paths.checkpoint,
      JSON.stringify({
        Data: {
          PodDeviceEntries: [
            { PodUID: a.uid, ContainerName: "main", ResourceName: RESOURCE, DeviceIDs: { "0": ["0000:3b:02.2"] }, AllocResp: "" },
            // Kubelets before 1.20 wrote a plain list.
            { PodUID: b.uid, ContainerName: "main", ResourceName: RESOURCE, DeviceIDs: ["0000:3b:02.0"], AllocResp: "" },
          ],
          RegisteredDevices: { [RESOURCE]: VFS },
        },
        Checksum: 1,
      }),
    );
    const noSocket = conf({ podResourcesSocket: join(state, "no-such.sock") });
    await addOk(a, noSocket);
    await addOk(b, noSocket);
    const ifaceOf = async (p: TestPod): Promise<string[]> => [...(await bed.podInterfaces(p)).keys()];
    assert.ok((await ifaceOf(a)).includes("net1") && (await ifaceOf(b)).includes("net1"));
    const links = (await execInNetns(bed.node.name, ["ip", "-o", "link", "show"])).stdout;
    assert.ok(!/\bmtvf2\b/.test(links) && !/\bmtvf0\b/.test(links) && /\bmtvf1\b/.test(links), "02.2 and 02.0 are in the pods, 02.1 is not");
    await delOk(a, noSocket);
    await delOk(b, noSocket);
    assert.deepEqual(await bed.residue(a), []);
  });

  test("PodResources unreachable and no checkpoint: the error names both and what to check; nothing is left", async (t) => {
    const ns = await createNamespace(t);
    await sriovNad(ns, "sriov-net", RESOURCE, "10.61.4.0/24");
    const p = await bed.createPod(ns, "sriov-net");
    podResources.stop();
    try {
      await expectError(t, p, /cannot tell which devices the kubelet gave the pod: PodResources \(.*pod-resources\.sock\): .*cannot connect: connect ENOENT.*; and the checkpoint \(.*kubelet_internal_checkpoint\): .*podResourcesSocket/);
    } finally {
      podResources = new TestPodResourcesServer(paths.socket);
      await podResources.start();
    }
  });

  test("a network naming a resource the pod was not given, and more networks than devices: the clear error before any delegate runs", async (t) => {
    const ns = await createNamespace(t);
    await sriovNad(ns, "sriov-net", RESOURCE, "10.61.5.0/24");
    const none = await bed.createPod(ns, "sriov-net", "none");
    podResources.pods.push({ namespace: ns, name: none.name, containers: { main: {} } });
    await expectError(t, none, new RegExp(`network "${ns}/sriov-net" needs a device of resource "intel\\.com/sriov_netdevice" .* but the pod was given none .*request "intel\\.com/sriov_netdevice" in a container's resources`));
    const few = await bed.createPod(ns, "sriov-net,sriov-net", "few");
    podResources.pods.push({ namespace: ns, name: few.name, containers: { main: { [RESOURCE]: ["0000:3b:02.0"] } } });
    await expectError(t, few, /2 networks .* need a device of resource "intel\.com\/sriov_netdevice" each, but the pod was given 1 \(0000:3b:02\.0\)/);
  });

  test("deviceID and pciBusID go into every plugin of a conflist, the deviceID capability and CNIDeviceInfoFile to plugins declaring them", async (t) => {
    const ns = await createNamespace(t);
    await fakes.add({ name: "mt-rec-a", on: { ADD: { stdout: JSON.stringify({ cniVersion: "1.0.0", interfaces: [{ name: "net1", sandbox: "/x" }] }) } } });
    await fakes.add({ name: "mt-rec-b", on: { ADD: { stdout: JSON.stringify({ cniVersion: "1.0.0", interfaces: [{ name: "net1", sandbox: "/x" }] }) } } });
    await fakes.clear();
    await applyYaml(
      JSON.stringify({
        apiVersion: "k8s.cni.cncf.io/v1",
        kind: "NetworkAttachmentDefinition",
        metadata: { name: "rec", namespace: ns, annotations: { "k8s.v1.cni.cncf.io/resourceName": RESOURCE } },
        spec: { config: JSON.stringify({ cniVersion: "1.0.0", name: "rec", plugins: [{ type: "mt-rec-a", capabilities: { deviceID: true, CNIDeviceInfoFile: true } }, { type: "mt-rec-b" }] }) },
      }),
    );
    const p = await bed.createPod(ns, "rec");
    podResources.pods.push({ namespace: ns, name: p.name, containers: { main: { [RESOURCE]: ["0000:3b:02.2"] } } });
    await addOk(p, conf({ binDir: fakes.binDir }));
    const calls = (await fakes.invocations()).filter((c) => c.command === "ADD");
    const callA = calls.find((c) => c.plugin === "mt-rec-a");
    const callB = calls.find((c) => c.plugin === "mt-rec-b");
    assert.ok(callA !== undefined && callB !== undefined, "both plugins ran");
    const a = callA.request();
    const b = callB.request();
    const infoFile = join(paths.deviceInfoDir, "cni", `rec-${p.containerId}_net1-device.json`);
    assert.equal(a["deviceID"], "0000:3b:02.2");
    assert.equal(a["pciBusID"], "0000:3b:02.2");
    assert.deepEqual(a["runtimeConfig"], { deviceID: "0000:3b:02.2", CNIDeviceInfoFile: infoFile }, "the capabilities it declares");
    assert.equal(b["deviceID"], "0000:3b:02.2", "every plugin of the list");
    assert.equal(b["pciBusID"], "0000:3b:02.2");
    assert.equal(b["runtimeConfig"], undefined, "no capability it does not declare");
    assert.ok(existsSync(join(paths.deviceInfoDir, "cni")), "DI-03: the directory exists before the delegate runs, for it to write into");
    await delOk(p, conf({ binDir: fakes.binDir }));
  });

  test("DI-03 a DEL that fails for another network still removes the device network's file (and keeps the other journaled); the retried DEL finishes", async (t) => {
    const ns = await createNamespace(t);
    await sriovNad(ns, "sriov-net", RESOURCE, "10.61.6.0/24");
    await fakes.add({ name: "mt-del-fails", on: { ADD: { stdout: JSON.stringify({ cniVersion: "1.0.0" }) }, DEL: { stdout: JSON.stringify({ cniVersion: "1.0.0", code: 11, msg: "try again" }), exitCode: 1 } } });
    await applyYaml(JSON.stringify({ apiVersion: "k8s.cni.cncf.io/v1", kind: "NetworkAttachmentDefinition", metadata: { name: "flaky", namespace: ns }, spec: { config: JSON.stringify({ cniVersion: "1.0.0", name: "flaky", type: "mt-del-fails" }) } }));
    const p = await bed.createPod(ns, "sriov-net,flaky");
    podResources.pods.push({ namespace: ns, name: p.name, containers: { main: { [RESOURCE]: ["0000:3b:02.1"] } } });
    await writeDpInfo(RESOURCE, "0000:3b:02.1", { type: "pci", version: "1.1.0", pci: { "pci-address": "0000:3b:02.1" } });
    // One plugin dir for both: the fake and the sriov stand-in.
    await copyFile(join(paths.bin, "sriov"), join(fakes.binDir, "sriov"));
    const c = conf({ binDir: fakes.binDir });
    const add = await bed.cni("ADD", p, { conf: c });
    assert.equal(add.code, 0, add.stdout);
    assert.equal(cniInfoFiles().length, 1);
    const failed = await bed.cni("DEL", p, { conf: c });
    assert.equal(failed.code, 1, "the other network's DEL failed");
    assert.deepEqual(cniInfoFiles(), [], "the device network's DEL succeeded and removed its file");
    const journal = await readFile(join(bed.cniDir, "attachments", `${p.containerId}.json`), "utf8");
    assert.ok(journal.includes('"flaky"') && !journal.includes('"sriov-net"'), "only the failed network stays journaled");
    await fakes.setBehaviour("mt-del-fails", "DEL", { stdout: "" });
    const retried = await bed.cni("DEL", p, { conf: c });
    assert.equal(retried.code, 0, retried.stdout);
    assert.deepEqual(await bed.residue(p), []);
  });

  test("a DEL without a journal rebuilds the plan without looking devices up: PodResources gone, every network is still torn down", async (t) => {
    const ns = await createNamespace(t);
    await sriovNad(ns, "sriov-net", RESOURCE, "10.61.7.0/24");
    const p = await bed.createPod(ns, "sriov-net");
    podResources.pods.push({ namespace: ns, name: p.name, containers: { main: { [RESOURCE]: ["0000:3b:02.2"] } } });
    await addOk(p);
    // The journal is lost, and the kubelet no longer answers (the pod's devices are released).
    await rm(join(bed.cniDir, "attachments", `${p.containerId}.json`));
    const del = await bed.cni("DEL", p, { conf: conf({ podResourcesSocket: join(state, "gone.sock") }) });
    assert.equal(del.code, 0, del.stdout + del.stderr);
    assert.ok(!/devices of the pod|cannot tell which devices/.test(del.stderr), "no device lookup on the rebuilt plan");
    const links = (await execInNetns(bed.node.name, ["ip", "-o", "link", "show"])).stdout;
    assert.ok(/\bmtvf2\b/.test(links), "the VF is back in the node's namespace: the rebuilt plan's sriov DEL ran");
    assert.deepEqual(cniInfoFiles(), []);
    assert.deepEqual(await bed.residue(p), []);
  });

  test("GC removes the device-info files of containers that are neither valid nor journaled, and keeps the others", async (t) => {
    const ns = await createNamespace(t);
    await sriovNad(ns, "sriov-net", RESOURCE, "10.61.8.0/24");
    const p = await bed.createPod(ns, "sriov-net");
    podResources.pods.push({ namespace: ns, name: p.name, containers: { main: { [RESOURCE]: ["0000:3b:02.0"] } } });
    await writeDpInfo(RESOURCE, "0000:3b:02.0", { type: "pci", version: "1.1.0", pci: { "pci-address": "0000:3b:02.0" } });
    await addOk(p);
    const stray = `sriov-net-${"f".repeat(64)}_net1-device.json`;
    await writeFile(join(paths.deviceInfoDir, "cni", stray), "{}");
    const gc = await bed.cni("GC", p, { conf: conf({ cniVersion: "1.1.0", "cni.dev/valid-attachments": [{ containerID: p.containerId, ifname: "eth0" }] }) });
    assert.equal(gc.code, 0, gc.stdout + gc.stderr);
    assert.deepEqual(cniInfoFiles(), [`sriov-net-${p.containerId}_net1-device.json`], "the stray file went, the valid sandbox's stayed");
    await delOk(p);
    assert.deepEqual(await bed.residue(p), []);
  });

  test("kill -9 of multus while the delegate ADDs: the journal names the device-info file, and the runtime's DEL removes it", async (t) => {
    const ns = await createNamespace(t);
    // The orphaned delegate keeps the sandbox's lock until it exits: the DEL waits for it (by design).
    await fakes.add({ name: "mt-slow", on: { ADD: { sleepSeconds: 3 } } });
    await applyYaml(
      JSON.stringify({
        apiVersion: "k8s.cni.cncf.io/v1",
        kind: "NetworkAttachmentDefinition",
        metadata: { name: "slow", namespace: ns, annotations: { "k8s.v1.cni.cncf.io/resourceName": RESOURCE } },
        spec: { config: JSON.stringify({ cniVersion: "1.0.0", name: "slow", type: "mt-slow" }) },
      }),
    );
    const p = await bed.createPod(ns, "slow");
    podResources.pods.push({ namespace: ns, name: p.name, containers: { main: { [RESOURCE]: ["0000:3b:02.0"] } } });
    await writeDpInfo(RESOURCE, "0000:3b:02.0", { type: "pci", version: "1.1.0", pci: { "pci-address": "0000:3b:02.0" } });
    const c = conf({ binDir: fakes.binDir });
    const run = bed.startCni("ADD", p, { conf: c });
    const file = join(paths.deviceInfoDir, "cni", `slow-${p.containerId}_net1-device.json`);
    for (let i = 0; i < 200 && !existsSync(file); i++) await sleep(50);
    assert.ok(existsSync(file), "the file is there while the delegate runs");
    const journal = await readFile(join(bed.cniDir, "attachments", `${p.containerId}.json`), "utf8");
    assert.ok(journal.includes(file), "the journal names the file before the delegate starts");
    process.kill(run.pid, "SIGKILL");
    await run.done;
    await delOk(p, c);
    assert.ok(!existsSync(file), "the runtime's DEL removed it");
    assert.deepEqual(await bed.residue(p), []);
  });
});

describe("DRA claims through the real API (claims and slices written by the test as a scheduler and driver would)", () => {
  const DRIVER = "sriov.test.k8s.cni.cncf.io";
  const NODE = "mt-node";
  const sliceName = `mt-node-${DRIVER}-${String(process.pid)}`;
  const devName = (pci: string): string => `vf-${pci.replace(/[:.]/g, "-")}`;

  before(async () => {
    await applyYaml(
      JSON.stringify({
        apiVersion: "resource.k8s.io/v1",
        kind: "ResourceSlice",
        metadata: { name: sliceName },
        spec: {
          driver: DRIVER,
          nodeName: NODE,
          pool: { name: NODE, generation: 1, resourceSliceCount: 1 },
          devices: [
            ...VFS.map((pci) => ({ name: devName(pci), attributes: { "k8s.cni.cncf.io/deviceID": { string: pci }, "k8s.cni.cncf.io/resourceName": { string: "intel.com/sriov_dra" } } })),
            // A device without the attributes (a GPU in the same claim): skipped.
            { name: "gpu-0", attributes: { model: { string: "t4" } } },
          ],
        },
      }),
    );
  });

  after(async () => {
    await kubectl(["delete", "resourceslice", sliceName, "--ignore-not-found"]);
  });

  async function claim(ns: string, name: string, allocated: { request: string; device: string }[] | undefined): Promise<void> {
    await applyYaml(
      JSON.stringify({
        apiVersion: "resource.k8s.io/v1",
        kind: "ResourceClaim",
        metadata: { name, namespace: ns },
        spec: { devices: { requests: [{ name: "vf", exactly: { deviceClassName: "any", count: 2 } }, { name: "gpu", exactly: { deviceClassName: "any" } }] } },
      }),
    );
    if (allocated === undefined) return;
    const status = { allocation: { devices: { results: allocated.map((a) => ({ request: a.request, driver: DRIVER, pool: NODE, device: a.device })) } } };
    await kubectl(["patch", "resourceclaim", name, "-n", ns, "--subresource=status", "--type=merge", "-p", JSON.stringify({ status })]);
  }

  async function claimPod(ns: string, name: string, networks: string, claims: Record<string, unknown>[]): Promise<TestPod> {
    await applyYaml(
      JSON.stringify({
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name, namespace: ns, annotations: { "k8s.v1.cni.cncf.io/networks": networks } },
        spec: { nodeName: NODE, resourceClaims: claims, containers: [{ name: "c", image: "busybox", resources: { claims: claims.map((c) => ({ name: c["name"] })) } }] },
      }),
    );
    const uid = (await kubectl(["get", "pod", "-n", ns, name, "-o", "jsonpath={.metadata.uid}"])).trim();
    return bed.sandbox(ns, name, uid);
  }

  test("a directly named claim: `<claim>/<request>` (seed 001's form) and the resourceName attribute both resolve, in PCI order; the claim's GPU is skipped", async (t) => {
    const ns = await createNamespace(t);
    await claim(ns, "vfs", [
      { request: "vf", device: devName("0000:3b:02.2") },
      { request: "vf", device: devName("0000:3b:02.0") },
      { request: "gpu", device: "gpu-0" },
    ]);
    await sriovNad(ns, "by-request", "sriov/vf", "10.62.0.0/24");
    await sriovNad(ns, "by-attribute", "intel.com/sriov_dra", "10.62.1.0/24");
    const p = await claimPod(ns, "seed", "by-request,by-attribute", [{ name: "sriov", resourceClaimName: "vfs" }]);
    await addOk(p);
    assert.equal(podResources.calls.Get + podResources.calls.List, 0, "the claim answered: PodResources was not asked");
    const links = (await execInNetns(bed.node.name, ["ip", "-o", "link", "show"])).stdout;
    assert.ok(!/\bmtvf0\b/.test(links) && !/\bmtvf2\b/.test(links), "both claimed VFs moved into the pod");
    // The sriov stand-in records which VF each interface got.
    const vfOf = async (ifName: string): Promise<string> =>
      (JSON.parse(await readFile(join(state, "sriov-state", `${p.containerId}-${ifName}.json`), "utf8")) as { deviceId: string }).deviceId;
    assert.equal(await vfOf("net1"), "0000:3b:02.0", "the first network gets the lower PCI address");
    assert.equal(await vfOf("net2"), "0000:3b:02.2", "the second the next one, never the same VF twice");
    await delOk(p);
    assert.deepEqual(await bed.residue(p), []);
  });

  test("a claim that is not allocated, and a template claim not created yet: the clear error, nothing left", async (t) => {
    const ns = await createNamespace(t);
    await claim(ns, "pending", undefined);
    await sriovNad(ns, "by-request", "sriov/vf", "10.62.2.0/24");
    const p = await claimPod(ns, "unallocated", "by-request", [{ name: "sriov", resourceClaimName: "pending" }]);
    await expectError(t, p, new RegExp(`ResourceClaim ${ns}/pending \\(claim "sriov"\\) is not allocated; the scheduler allocates a claim when it places the pod`));
    const q = await claimPod(ns, "templated", "by-request", [{ name: "sriov", resourceClaimTemplateName: "two-vfs" }]);
    await expectError(t, q, /claim "sriov" \(template two-vfs\) has no ResourceClaim yet \(status\.resourceClaimStatuses\); is kube-controller-manager running\?/);
  });
});
