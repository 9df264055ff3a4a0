// The SR-IOV test rig on the e2e node (this machine has no SR-IOV, vfio or netdevsim). Real: the
// kubelet's device manager and PodResources, the scheduler and kubelet's DRA, the CNI protocol, `ip`
// moving netdevs between real namespaces. Stood in for: the VFs (veth ends in the node netns, named
// in a fake sysfs tree), the device plugin and DRA driver (ours, speaking the kubelet's gRPC APIs),
// and sriov-cni (test/devices/sriov-test-cni.ts, same contract).
import { chmod, lstat, mkdir, rm, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { run, CommandError } from "../cluster/harness.ts";
import { createFakeSriovTree, type FakePf } from "../devices/fake-sysfs.ts";
import type { NodeInfo } from "./node-harness.ts";

export const NETDEVICE_RESOURCE = "intel.com/sriov_netdevice";
export const VFIO_RESOURCE = "intel.com/sriov_vfio";

/** Four kernel-driver VFs (netdevs mtvf0…3) and two vfio-pci VFs of one PF, in PCI order. */
export const PF: FakePf = {
  pci: "0000:3b:00.0",
  netdev: "mtpf0",
  vfs: [
    { pci: "0000:3b:02.0", driver: "iavf", netdev: "mtvf0" },
    { pci: "0000:3b:02.1", driver: "iavf", netdev: "mtvf1" },
    { pci: "0000:3b:02.2", driver: "iavf", netdev: "mtvf2" },
    { pci: "0000:3b:02.3", driver: "iavf", netdev: "mtvf3" },
    { pci: "0000:3b:0a.0", driver: "vfio-pci" },
    { pci: "0000:3b:0a.1", driver: "vfio-pci" },
  ],
};

export const DRA_RESOURCE = "intel.com/sriov_dra";

/** A second PF whose four VFs a DRA driver publishes instead of the device plugin. */
export const DRA_PF: FakePf = {
  pci: "0000:5e:00.0",
  netdev: "mtpf1",
  vfs: [
    { pci: "0000:5e:02.0", driver: "iavf", netdev: "mtdvf0" },
    { pci: "0000:5e:02.1", driver: "iavf", netdev: "mtdvf1" },
    { pci: "0000:5e:02.2", driver: "iavf", netdev: "mtdvf2" },
    { pci: "0000:5e:02.3", driver: "iavf", netdev: "mtdvf3" },
  ],
};

export const NETDEVICE_VFS = PF.vfs.filter((v) => v.netdev !== undefined).map((v) => v.pci);
export const VFIO_VFS = PF.vfs.filter((v) => v.netdev === undefined).map((v) => v.pci);

export interface DeviceRig {
  sysfs: string;
  deviceInfoDir: string;
  /** The kubelet's device-plugins directory (a bind mount of the node's /var/lib/kubelet/device-plugins). */
  pluginDir: string;
  remove(): Promise<void>;
}

async function ipNode(node: NodeInfo, args: string[]): Promise<void> {
  const r = await run("ip", ["-n", node.netns, ...args]);
  if (r.code !== 0) throw new CommandError(`ip -n ${node.netns} ${args.join(" ")}`, r);
}

/** The fake sysfs, the VF netdevs in the node netns and `sriov` (the stand-in) in the node's CNI bin dir. */
export async function createDeviceRig(node: NodeInfo): Promise<DeviceRig> {
  const sysfs = join(node.stateDir, "sysfs-test");
  const state = join(node.stateDir, "sriov-test-state");
  await rm(sysfs, { recursive: true, force: true });
  await createFakeSriovTree(sysfs, [PF, DRA_PF]);
  for (const vf of [...PF.vfs, ...DRA_PF.vfs]) {
    if (vf.netdev === undefined) continue;
    await run("ip", ["-n", node.netns, "link", "del", vf.netdev]);
    await ipNode(node, ["link", "add", vf.netdev, "type", "veth", "peer", "name", `${vf.netdev}p`]);
    await ipNode(node, ["link", "set", `${vf.netdev}p`, "up"]);
  }
  const script = fileURLToPath(new URL("../devices/sriov-test-cni.ts", import.meta.url));
  const plugin = join(node.stateDir, "cni-bin", "sriov");
  await rm(plugin, { force: true });
  await writeFile(plugin, `#!/bin/sh\nSRIOV_TEST_SYSFS='${sysfs}' SRIOV_TEST_STATE='${state}' exec '${process.execPath}' '${script}' "$@"\n`);
  await chmod(plugin, 0o755);
  // vfioveth as the installer puts it on a node (the multi-call executable under that name), unless
  // an installed Multus-TS already did.
  const vfioveth = join(node.stateDir, "cni-bin", "vfioveth");
  // A regular file is the installer's hard link; a symlink is ours (maybe left by an earlier run).
  const ours = !(await lstat(vfioveth).then((st) => st.isFile(), () => false));
  if (ours) await rm(vfioveth, { force: true });
  if (ours) await symlink(fileURLToPath(new URL("../../dist/bin/vfioveth", import.meta.url)), vfioveth);
  const deviceInfoDir = join(node.stateDir, "devinfo");
  await mkdir(deviceInfoDir, { recursive: true });
  return {
    sysfs,
    deviceInfoDir,
    pluginDir: join(node.stateDir, "device-plugins"),
    async remove() {
      for (const vf of [...PF.vfs, ...DRA_PF.vfs]) if (vf.netdev !== undefined) await run("ip", ["-n", node.netns, "link", "del", `${vf.netdev}p`]);
      await rm(plugin, { force: true });
      if (ours) await rm(vfioveth, { force: true });
      await rm(sysfs, { recursive: true, force: true });
      await rm(state, { recursive: true, force: true });
    },
  };
}
