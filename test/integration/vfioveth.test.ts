// dist/bin/vfioveth as a runtime (Multus) calls it: real network namespaces, the real host-local IPAM,
// real `ip`. The VF is not real (no SR-IOV here): a fake sysfs tree (test/devices/fake-sysfs.ts) has a
// PF whose netdev is a real veth in the "node" namespace — so reading the PF's VF table over netlink
// runs for real and finds none, as on a NIC without SR-IOV.
import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { createFakeSriovTree } from "../devices/fake-sysfs.ts";
import { createNetns, deleteNetns, execInNetns, listAddresses, listLinks, type Netns } from "../helpers/netns.ts";
import { runExecutable, stdoutJson } from "../helpers/run-executable.ts";

const REF_PLUGINS = "/usr/lib/cni";
let dir: string;
let node: Netns;
let pod: Netns;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "mt-vfioveth-"));
  await createFakeSriovTree(join(dir, "sys"), [
    { pci: "0000:3b:00.0", netdev: "mtpf0", vfs: [{ pci: "0000:3b:0a.0", driver: "vfio-pci" }, { pci: "0000:3b:02.0", driver: "iavf", netdev: "mtvf0" }] },
  ]);
  node = await createNetns("mt-vnode");
  pod = await createNetns("mt-vpod");
  await execInNetns(node.name, ["ip", "link", "add", "mtpf0", "type", "veth", "peer", "name", "mtpf0p"]);
});

after(async () => {
  await deleteNetns(pod.name);
  await deleteNetns(node.name);
  await rm(dir, { recursive: true, force: true });
});

function conf(extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    cniVersion: "1.0.0",
    name: "sriov-dpdk",
    type: "vfioveth",
    sysfsRoot: join(dir, "sys"),
    deviceID: "0000:3b:0a.0",
    ipam: { type: "host-local", subnet: "10.63.0.0/24", dataDir: join(dir, "ipam") },
    ...extra,
  });
}

function call(command: string, stdin: string, ifName = "net1"): ReturnType<typeof runExecutable> {
  return runExecutable("vfioveth", {
    netns: node.name,
    stdin,
    env: { CNI_COMMAND: command, CNI_CONTAINERID: "c1", CNI_NETNS: pod.path, CNI_IFNAME: ifName, CNI_PATH: REF_PLUGINS },
  });
}

const leases = (): string[] => {
  const d = join(dir, "ipam", "sriov-dpdk");
  return existsSync(d) ? readdirSync(d).filter((f) => /^\d/.test(f)) : [];
};

describe("vfioveth (seed 000's DPDK pod)", () => {
  test("ADD: the pair in the pod, net1 with the requested MAC, the IPAM address and the VF's PCI address as alias; DEL removes it and releases the lease", async () => {
    const add = await call("ADD", conf({ runtimeConfig: { mac: "ca:fe:00:00:00:01" } }));
    assert.equal(add.code, 0, add.stdout + add.stderr);
    const result = stdoutJson(add);
    assert.deepEqual(result["interfaces"], [
      { name: "net1", mac: "ca:fe:00:00:00:01", sandbox: pod.path, pciID: "0000:3b:0a.0" },
      { name: "net1-vdev", sandbox: pod.path },
    ]);
    const links = await listLinks(pod.name);
    const net1 = links.find((l) => l.ifname === "net1");
    assert.ok(net1 !== undefined, "net1 is in the pod");
    assert.equal(net1.address, "ca:fe:00:00:00:01");
    assert.equal(net1.raw["ifalias"], "0000:3b:0a.0");
    assert.ok(links.some((l) => l.ifname === "net1-vdev" && l.kind === "veth"));
    const addrs = (await listAddresses(pod.name)).find((a) => a.ifname === "net1")?.addresses.filter((a) => a.family === "inet") ?? [];
    assert.equal(addrs.length, 1);
    assert.match(addrs[0]?.cidr ?? "", /^10\.63\.0\.\d+\/24$/);
    assert.equal(leases().length, 1);

    const del = await call("DEL", conf());
    assert.equal(del.code, 0, del.stdout + del.stderr);
    assert.ok(!(await listLinks(pod.name)).some((l) => l.ifname.startsWith("net1")), "both ends are gone");
    assert.deepEqual(leases(), [], "the lease is released");
    const again = await call("DEL", conf());
    assert.equal(again.code, 0, "DEL is idempotent");
  });

  test("a MAC from CNI_ARGS MAC= (Multus's route when the NAD declares no mac capability) is honoured too", async () => {
    const add = await runExecutable("vfioveth", {
      netns: node.name,
      stdin: conf(),
      env: { CNI_COMMAND: "ADD", CNI_CONTAINERID: "c2", CNI_NETNS: pod.path, CNI_IFNAME: "net2", CNI_PATH: REF_PLUGINS, CNI_ARGS: "IgnoreUnknown=true;MAC=ca:fe:00:00:00:09" },
    });
    assert.equal(add.code, 0, add.stdout + add.stderr);
    assert.equal((await listLinks(pod.name)).find((l) => l.ifname === "net2")?.address, "ca:fe:00:00:00:09");
    const del = await runExecutable("vfioveth", { netns: node.name, stdin: conf(), env: { CNI_COMMAND: "DEL", CNI_CONTAINERID: "c2", CNI_NETNS: pod.path, CNI_IFNAME: "net2", CNI_PATH: REF_PLUGINS } });
    assert.equal(del.code, 0);
    assert.deepEqual(leases(), []);
  });

  test("without a MAC in the request it reads the PF's VF table over netlink; a PF without SR-IOV has none, and that is the error, with nothing left", async () => {
    const add = await call("ADD", conf());
    assert.equal(add.code, 1);
    assert.match(String(stdoutJson(add)["msg"]), /PF mtpf0 \(0000:3b:00\.0\) reports no MAC for VF 0 \(0000:3b:0a\.0\); set one with the selection's "mac"/);
    assert.ok(!(await listLinks(pod.name)).some((l) => l.ifname.startsWith("net1")));
    assert.deepEqual(leases(), [], "IPAM did not run");
  });

  test("the errors before anything is made: no deviceID (the NAD names no resource), a kernel-driver VF, an interface name too long for its peer", async () => {
    const rows: [string, string, RegExp][] = [
      [conf({ deviceID: undefined }), "net1", /no "deviceID": the NetworkAttachmentDefinition must name the VF's resource/],
      [conf({ deviceID: "0000:3b:02.0", mac: "ca:fe:00:00:00:02" }), "net1", /VF 0000:3b:02\.0 is bound to iavf, not vfio-pci/],
      [conf({ mac: "ca:fe:00:00:00:03" }), "dataplane-long", /the peer's name dataplane-long-vdev is longer than 15 bytes/],
    ];
    for (const [stdin, ifName, message] of rows) {
      const add = await call("ADD", stdin, ifName);
      assert.equal(add.code, 1, `ADD should fail for ${stdin}`);
      assert.match(String(stdoutJson(add)["msg"]), message);
      assert.deepEqual(leases(), [], "no lease");
      await call("DEL", stdin, ifName);
    }
  });
});
