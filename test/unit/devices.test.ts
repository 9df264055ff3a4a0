// The device layer's pure parts and the planner's device step as production runs them: the protobuf
// wire format of PodResources, the checkpoint's two DeviceIDs shapes, DRA claim resolution over
// in-memory API answers, the sorted indexed assignment, the planner's injection (planForPod with the
// real resolver), vfioveth's sysfs walk over a fake tree and its reading of iproute2's VF table.
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { assignDevices } from "../../src/devices/device-assignment.ts";
import { draDevices, type DraApi } from "../../src/devices/dra-claims.ts";
import { checkpointDevices } from "../../src/devices/kubelet-checkpoint.ts";
import { attachmentInfoPath, devicePluginInfoPath } from "../../src/devices/paths.ts";
import { decodeMessage, encodeStrings, messagesOf, stringOf, stringsOf } from "../../src/devices/protobuf-wire.ts";
import { vfInfo, vfMacFromIpJson } from "../../src/devices/vfio-veth.ts";
import type { ResourceClaim, ResourceSlice } from "../../src/k8s/dra-resources.ts";
import { decodePod } from "../../src/k8s/resources.ts";
import type { CniRequest } from "../../src/multus/config-file-planner.ts";
import { parseMultusConfig } from "../../src/multus/multus-config.ts";
import { createNetworkResolver } from "../../src/multus/network-resolver.ts";
import { planForPod } from "../../src/multus/pod-planner.ts";
import { MultusError } from "../../src/util/multus-error.ts";
import { createFakeSriovTree } from "../devices/fake-sysfs.ts";

const silent = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

describe("protobuf wire format (PodResources messages)", () => {
  test("strings and nested messages round-trip; repeated fields keep their order; unknown fields are kept", () => {
    const inner = encodeStrings({ 1: "intel.com/sriov_netdevice", 2: ["0000:3b:02.1", "0000:3b:02.0"] });
    const container = Buffer.concat([Buffer.from(encodeStrings({ 1: "main" })), Buffer.from([0x12, inner.length]), Buffer.from(inner)]);
    const decoded = decodeMessage(container);
    assert.equal(stringOf(decoded, 1), "main");
    const devices = messagesOf(decoded, 2)[0];
    assert.ok(devices !== undefined);
    assert.equal(stringOf(devices, 1), "intel.com/sriov_netdevice");
    assert.deepEqual(stringsOf(devices, 2), ["0000:3b:02.1", "0000:3b:02.0"]);
    // A varint field (cpu_ids = 3) and a 64-bit one are skipped over, not misread.
    const withOthers = decodeMessage(Buffer.from([0x18, 0x96, 0x01, 0x21, 1, 2, 3, 4, 5, 6, 7, 8, 0x0a, 1, 0x41]));
    assert.equal(withOthers.get(3)?.[0], 150n);
    assert.equal(stringOf(withOthers, 1), "A");
    assert.equal(stringOf(withOthers, 9), "", "an absent string is proto3's default");
  });

  test("a truncated or malformed message is an error, not a partial answer", () => {
    assert.throws(() => decodeMessage(Buffer.from([0x0a, 5, 0x41])), /past the end/);
    assert.throws(() => decodeMessage(Buffer.from([0x08, 0x96])), /truncated varint/);
    assert.throws(() => decodeMessage(Buffer.from([0x0b])), /unsupported wire type 3/);
  });
});

describe("the kubelet device manager's checkpoint", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "mt-checkpoint-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test("NUMA-keyed DeviceIDs (current kubelets) and a plain list (before 1.20); other pods and unknown top-level keys ignored", async () => {
    const file = join(dir, "kubelet_internal_checkpoint");
    await writeFile(
      file,
      JSON.stringify({
        Data: {
          PodDeviceEntries: [
            { PodUID: "u1", ContainerName: "a", ResourceName: "intel.com/vf", DeviceIDs: { "1": ["0000:af:02.0"], "-1": ["0000:3b:02.1"], "0": ["0000:3b:02.0"] }, AllocResp: "" },
            { PodUID: "u1", ContainerName: "b", ResourceName: "intel.com/vf", DeviceIDs: ["0000:3b:02.7"], AllocResp: "" },
            { PodUID: "u2", ContainerName: "a", ResourceName: "intel.com/vf", DeviceIDs: ["0000:3b:02.5"], AllocResp: "" },
          ],
          RegisteredDevices: {},
        },
        Checksum: 42,
        BootID: "later-kubelets-add-this",
      }),
    );
    assert.deepEqual(await checkpointDevices(file, "u1"), new Map([["intel.com/vf", ["0000:3b:02.1", "0000:3b:02.0", "0000:af:02.0", "0000:3b:02.7"]]]));
    assert.deepEqual(await checkpointDevices(file, "nobody"), new Map());
  });

  test("a file that is not a checkpoint, or an entry of the wrong shape, is an error naming the file", async () => {
    const bad = join(dir, "bad");
    await writeFile(bad, '{"Data":{}}');
    await assert.rejects(checkpointDevices(bad, "u1"), /no Data\.PodDeviceEntries list/);
    await writeFile(bad, JSON.stringify({ Data: { PodDeviceEntries: [{ PodUID: "u1", ResourceName: "r", DeviceIDs: { "0": "x" } }] } }));
    await assert.rejects(checkpointDevices(bad, "u1"), /neither a list nor a NUMA map of lists/);
    await writeFile(bad, "{");
    await assert.rejects(checkpointDevices(bad, "u1"), /is not JSON/);
  });
});

describe("DRA claims", () => {
  const slice = (devices: ResourceSlice["spec"]["devices"], generation = 1): ResourceSlice => ({ metadata: { name: "s" }, spec: { driver: "d", nodeName: "n1", pool: { name: "n1", generation }, devices } });
  const vf = (name: string, pci: string, resource?: string): ResourceSlice["spec"]["devices"][number] => ({
    name,
    attributes: { "k8s.cni.cncf.io/deviceID": { string: pci }, ...(resource === undefined ? {} : { "k8s.cni.cncf.io/resourceName": { string: resource } }) },
  });
  const claim = (name: string, results: { request: string; device: string }[] | undefined): ResourceClaim => ({
    metadata: { name, namespace: "ns", uid: `uid-${name}` },
    status: { ...(results === undefined ? {} : { allocation: { devices: { results: results.map((r) => ({ ...r, driver: "d", pool: "n1" })) } } }), reservedFor: [] },
  });
  const api = (claims: ResourceClaim[], slices: ResourceSlice[]): DraApi & { lists: number } => {
    const a = {
      lists: 0,
      getClaim: (_ns: string, name: string) => Promise.resolve(claims.find((c) => c.metadata.name === name)),
      listSlices: () => {
        a.lists++;
        return Promise.resolve(slices);
      },
    };
    return a;
  };
  const pod = (claims: Record<string, unknown>[], statuses: Record<string, unknown>[] = [], nodeName = "n1"): ReturnType<typeof decodePod> =>
    decodePod({ metadata: { name: "p", namespace: "ns", uid: "u" }, spec: { nodeName, resourceClaims: claims }, status: { resourceClaimStatuses: statuses } });

  test("template claims (through resourceClaimStatuses) and direct claims both count; each device under its resourceName and `<claim>/<request>`; devices without the attributes skipped; slices listed once per driver", async () => {
    const a = api(
      [claim("gen-1", [{ request: "vf", device: "d1" }, { request: "gpu", device: "gpu0" }, { request: "vf", device: "d0" }]), claim("direct", [{ request: "nic/fast", device: "d2" }])],
      [slice([vf("d0", "0000:3b:02.0", "intel.com/sriov"), vf("d1", "0000:3b:02.1", "intel.com/sriov"), vf("d2", "0000:3b:02.2"), { name: "gpu0", attributes: {} }])],
    );
    const got = await draDevices(pod([{ name: "sriov", resourceClaimTemplateName: "t" }, { name: "other", resourceClaimName: "direct" }], [{ name: "sriov", resourceClaimName: "gen-1" }]), a, "ns/p");
    assert.deepEqual(got.devices, new Map([["sriov/vf", ["0000:3b:02.1", "0000:3b:02.0"]], ["intel.com/sriov", ["0000:3b:02.1", "0000:3b:02.0"]], ["other/nic", ["0000:3b:02.2"]]]));
    assert.deepEqual(got.resourceOf, new Map([["0000:3b:02.1", "intel.com/sriov"], ["0000:3b:02.0", "intel.com/sriov"]]));
    assert.equal(a.lists, 1);
  });

  test("only the newest generation of a pool counts; a status entry without a claim name means no claim was needed", async () => {
    const a = api(
      [claim("c", [{ request: "vf", device: "d0" }])],
      [slice([vf("d0", "0000:3b:02.0", "old")], 1), slice([vf("d0", "0000:3b:02.7", "new")], 2)],
    );
    const got = await draDevices(pod([{ name: "x", resourceClaimName: "c" }, { name: "unneeded", resourceClaimTemplateName: "t" }], [{ name: "unneeded" }]), a, "ns/p");
    assert.deepEqual(got.devices, new Map([["x/vf", ["0000:3b:02.7"]], ["new", ["0000:3b:02.7"]]]));
  });

  test("the errors: not allocated, missing, a template claim not created yet, a pod not scheduled", async () => {
    const a = api([claim("c", undefined)], []);
    await assert.rejects(draDevices(pod([{ name: "x", resourceClaimName: "c" }]), a, "ns/p"), /ResourceClaim ns\/c \(claim "x"\) is not allocated/);
    await assert.rejects(draDevices(pod([{ name: "x", resourceClaimName: "gone" }]), a, "ns/p"), /ResourceClaim ns\/gone \(claim "x"\) does not exist/);
    await assert.rejects(draDevices(pod([{ name: "x", resourceClaimTemplateName: "t" }]), a, "ns/p"), /claim "x" \(template t\) has no ResourceClaim yet/);
    await assert.rejects(draDevices(pod([{ name: "x", resourceClaimName: "c" }], [], ""), a, "ns/p"), /has DRA claims but no spec\.nodeName/);
  });
});

describe("device assignment", () => {
  const map = new Map([
    ["r/a", ["0000:3b:02.3", "0000:3b:02.1", "0000:3b:02.2"]],
    ["r/b", ["0000:5e:00.1"]],
  ]);

  test("per resource, sorted IDs to the networks in plan order; other resources independent", () => {
    const got = assignDevices(
      [
        { index: 1, network: "ns/x", resourceName: "r/a" },
        { index: 2, network: "ns/y", resourceName: "r/b" },
        { index: 3, network: "ns/x", resourceName: "r/a" },
      ],
      map,
      "ns/p",
      "test",
    );
    assert.deepEqual(got, new Map([[1, "0000:3b:02.1"], [2, "0000:5e:00.1"], [3, "0000:3b:02.2"]]));
  });

  test("a device found under two names goes to one network only", () => {
    const twice = new Map([["claim/vf", ["0000:3b:02.0", "0000:3b:02.1"]], ["intel.com/x", ["0000:3b:02.0", "0000:3b:02.1"]]]);
    const got = assignDevices([{ index: 1, network: "a", resourceName: "claim/vf" }, { index: 2, network: "b", resourceName: "intel.com/x" }], twice, "ns/p", "t");
    assert.deepEqual(got, new Map([[1, "0000:3b:02.0"], [2, "0000:3b:02.1"]]));
    assert.throws(
      () => assignDevices([{ index: 1, network: "a", resourceName: "claim/vf" }, { index: 2, network: "b", resourceName: "claim/vf" }, { index: 3, network: "c", resourceName: "intel.com/x" }], twice, "ns/p", "t"),
      /1 networks \("c"\) need a device of resource "intel\.com\/x" each, but the pod was given 2 \(0000:3b:02\.0, 0000:3b:02\.1\), and 0000:3b:02\.0 to network "a", 0000:3b:02\.1 to network "b" already/,
    );
  });

  test("none given, or fewer than networks: MULTUS_ERR_DEVICE naming the pod, the networks, the resource and what to do", () => {
    assert.throws(
      () => assignDevices([{ index: 1, network: "ns/z", resourceName: "r/none" }], map, "ns/p", "PodResources: nothing"),
      (err: unknown) => err instanceof MultusError && err.errorCode === "MULTUS_ERR_DEVICE" && /pod ns\/p: network "ns\/z" needs a device of resource "r\/none" .* was given none \(PodResources: nothing\); request "r\/none"/.test(err.message),
    );
    assert.throws(
      () => assignDevices([{ index: 1, network: "ns/y", resourceName: "r/b" }, { index: 2, network: "ns/y", resourceName: "r/b" }], map, "ns/p", "t"),
      /2 networks \("ns\/y", "ns\/y"\) need a device of resource "r\/b" each, but the pod was given 1 \(0000:5e:00\.1\); request 2 "r\/b" or select fewer networks/,
    );
  });
});

describe("the planner's device step (planForPod, the real resolver)", () => {
  const nadObject = (name: string, config: Record<string, unknown>, resourceName?: string): unknown => ({
    apiVersion: "k8s.cni.cncf.io/v1",
    kind: "NetworkAttachmentDefinition",
    metadata: { namespace: "ns", name, ...(resourceName === undefined ? {} : { annotations: { "k8s.v1.cni.cncf.io/resourceName": resourceName } }) },
    spec: { config: JSON.stringify(config) },
  });
  const nads = new Map<string, unknown>([
    ["kube-system/cluster", nadObject("cluster", { cniVersion: "1.0.0", type: "bridge" })],
    ["ns/vf", nadObject("vf", { cniVersion: "1.0.0", name: "vf-net", plugins: [{ type: "sriov" }, { type: "tuning", capabilities: { mac: true } }] }, "intel.com/sriov")],
    ["ns/plain", nadObject("plain", { cniVersion: "1.0.0", type: "macvlan" })],
  ]);
  const config = parseMultusConfig({ cniVersion: "1.0.0", name: "multus", type: "multus", clusterNetwork: "cluster", deviceInfoDir: "/run/di" }, "test");
  const req: CniRequest = { containerId: "cid1", netns: "/run/netns/p", ifName: "eth0", cniArgs: [], runtimeConfig: {} };
  const resolver = createNetworkResolver(config, (ns, n) => Promise.resolve(nads.get(`${ns}/${n}`)), silent);
  const plan = (networks: string, devices?: Map<string, string[]>): ReturnType<typeof planForPod> =>
    planForPod(
      {
        config,
        req,
        pod: { namespace: "ns", name: "p", uid: "u" },
        annotations: { "k8s.v1.cni.cncf.io/networks": networks },
        ...(devices === undefined ? {} : { devices: () => Promise.resolve({ devices, sources: "test", resourceOf: new Map() }) }),
      },
      resolver,
    );

  test("DI-02 DI-03 deviceID and pciBusID in every plugin, the deviceID and CNIDeviceInfoFile capabilities, the device-info paths; networks without a resource untouched", async () => {
    const p = await plan("vf,plain,vf", new Map([["intel.com/sriov", ["0000:3b:02.1", "0000:3b:02.0"]]]));
    const [, first, plain, second] = p.attachments;
    assert.ok(first !== undefined && plain !== undefined && second !== undefined);
    for (const [a, id] of [[first, "0000:3b:02.0"], [second, "0000:3b:02.1"]] as const) {
      assert.deepEqual(a.delegate.plugins.map((x) => [x.type, x["deviceID"], x["pciBusID"]]), [["sriov", id, id], ["tuning", id, id]]);
      assert.equal(a.capabilityArgs["deviceID"], id);
      assert.equal(a.capabilityArgs["CNIDeviceInfoFile"], `/run/di/cni/vf-net-cid1_${a.ifName}-device.json`);
      assert.deepEqual(a.device, { id, resourceName: "intel.com/sriov", infoFile: attachmentInfoPath("/run/di", "vf-net", "cid1", a.ifName), dpInfoFile: devicePluginInfoPath("/run/di", "intel.com/sriov", id) });
    }
    assert.equal(devicePluginInfoPath("/run/di", "intel.com/sriov", "0000:3b:02.0"), "/run/di/dp/intel.com-sriov-0000:3b:02.0-device.json");
    assert.equal(plain.device, undefined);
    assert.equal(plain.delegate.plugins[0]?.["deviceID"], undefined);
  });

  test("a selection's deviceID for a network with a resourceName must be one of the pod's devices of it, and is taken first; without a resourceName it is used as given", async () => {
    const given = new Map([["intel.com/sriov", ["0000:3b:02.0", "0000:3b:02.1"]]]);
    // The named VF goes to its network; the next network of the resource gets the other one.
    const p = await plan(JSON.stringify([{ name: "vf" }, { name: "vf", deviceID: "0000:3b:02.0" }]), given);
    assert.deepEqual(p.attachments.slice(1).map((a) => [a.ifName, a.device?.id, a.device?.resourceName]), [["net1", "0000:3b:02.1", "intel.com/sriov"], ["net2", "0000:3b:02.0", "intel.com/sriov"]]);
    // A device the kubelet did not give the pod (the PF, the node's uplink, another pod's VF) is refused before anything runs.
    await assert.rejects(plan(JSON.stringify([{ name: "vf", deviceID: "0000:af:00.1" }]), given), (err: unknown) =>
      err instanceof MultusError && err.errorCode === "MULTUS_ERR_DEVICE" &&
      /pod ns\/p: network "ns\/vf" \(element 0\) asks for device "0000:af:00\.1" of resource "intel\.com\/sriov", but the kubelet gave the pod only 0000:3b:02\.0, 0000:3b:02\.1 of that resource \(test\)/.test(err.message));
    await assert.rejects(plan(JSON.stringify([{ name: "vf", deviceID: "0000:3b:02.0" }, { name: "vf", deviceID: "0000:3b:02.0" }]), given), /asks for device "0000:3b:02\.0", which network "ns\/vf" already has/);
    await assert.rejects(plan(JSON.stringify([{ name: "vf", deviceID: "0000:3b:02.0" }]), new Map()), /the kubelet gave the pod no device of that resource/);
    // Without a resourceName the NAD's author has made the device the pod's choice (docs/devices.md).
    const plain = await plan(JSON.stringify([{ name: "plain", deviceID: "0000:af:00.1" }]));
    const a = plain.attachments[1];
    assert.equal(a?.device?.id, "0000:af:00.1");
    assert.equal(a.device.resourceName, undefined);
    assert.equal(a.delegate.plugins[0]?.["pciBusID"], "0000:af:00.1");
    await assert.rejects(plan("vf"), /names a device resource, but Multus runs without a pod/);
  });
});

describe("vfioveth's view of the VF", () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), "mt-sysfs-"));
    await createFakeSriovTree(root, [{ pci: "0000:3b:00.0", netdev: "ens785f0", vfs: [{ pci: "0000:3b:02.0", driver: "iavf", netdev: "v0" }, { pci: "0000:3b:0a.0", driver: "vfio-pci" }] }]);
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  test("the PF, its netdev and the VF's index from physfn/virtfn; the driver; clear errors for what is not a VF", () => {
    assert.deepEqual(vfInfo(root, "0000:3b:0a.0"), { pf: "0000:3b:00.0", pfNetdev: "ens785f0", index: 1, driver: "vfio-pci" });
    assert.throws(() => vfInfo(root, "0000:00:01.0"), /no PCI device 0000:00:01\.0/);
    assert.throws(() => vfInfo(root, "0000:3b:00.0"), /is not an SR-IOV VF/);
  });

  test("the VF's MAC from iproute2's JSON VF table (vfinfo_list), by VF number", () => {
    const shown = JSON.stringify([
      {
        ifindex: 4,
        ifname: "ens785f0",
        vfinfo_list: [
          { vf: 0, link_type: "ether", address: "ae:12:34:56:78:00", broadcast: "ff:ff:ff:ff:ff:ff", spoofchk: true },
          { vf: 1, link_type: "ether", address: "ae:12:34:56:78:01", broadcast: "ff:ff:ff:ff:ff:ff", spoofchk: true },
        ],
      },
    ]);
    assert.equal(vfMacFromIpJson(shown, 1), "ae:12:34:56:78:01");
    assert.equal(vfMacFromIpJson(shown, 5), undefined);
    assert.equal(vfMacFromIpJson(JSON.stringify([{ ifname: "veth0" }]), 0), undefined, "a netdev without SR-IOV has no VF table");
  });
});
