// A fake sysfs PCI tree for SR-IOV tests (this kernel has no SR-IOV, vfio or netdevsim): a PF with
// `virtfn<N>` links to its VFs, VFs with `physfn` back to the PF, `driver` links (iavf for a
// kernel-driver VF, vfio-pci for a DPDK one) and `net/<ifname>` for VFs that have a netdev. The
// netdevs themselves are stood in for by veth ends in the node's network namespace (the caller makes
// them). Code under test finds everything through its injectable sysfs root, as it would under /sys.
import { mkdir, symlink } from "node:fs/promises";
import { join } from "node:path";

export interface FakeVf {
  pci: string;
  driver: "iavf" | "vfio-pci";
  /** The VF's netdev (kernel driver only). */
  netdev?: string;
}

export interface FakePf {
  pci: string;
  netdev: string;
  vfs: FakeVf[];
}

export async function createFakeSriovTree(root: string, pfs: readonly FakePf[]): Promise<void> {
  const devices = join(root, "bus", "pci", "devices");
  const drivers = join(root, "bus", "pci", "drivers");
  await mkdir(devices, { recursive: true });
  for (const d of ["iavf", "vfio-pci", "ice"]) await mkdir(join(drivers, d), { recursive: true });
  for (const pf of pfs) {
    const pfDir = join(devices, pf.pci);
    await mkdir(join(pfDir, "net", pf.netdev), { recursive: true });
    await symlink(join("..", "..", "drivers", "ice"), join(pfDir, "driver"));
    for (const [i, vf] of pf.vfs.entries()) {
      const vfDir = join(devices, vf.pci);
      await mkdir(vfDir, { recursive: true });
      await symlink(join("..", vf.pci), join(pfDir, `virtfn${String(i)}`));
      await symlink(join("..", pf.pci), join(vfDir, "physfn"));
      await symlink(join("..", "..", "drivers", vf.driver), join(vfDir, "driver"));
      if (vf.netdev !== undefined) await mkdir(join(vfDir, "net", vf.netdev), { recursive: true });
    }
  }
}
