// Stand-ins for SR-IOV hardware on the local node, for scripts/demo.sh: the fake VFs and sriov-cni's
// stand-in (test/e2e/devices-rig.ts), the test device plugin for intel.com/sriov_netdevice and
// intel.com/sriov_vfio registered with the node's kubelet, and the test DRA driver with its
// ResourceSlice and the seed's DeviceClass. Prints "ready" once the node's allocatable lists the
// resources; stops them all on SIGTERM/SIGINT.
//   node test/devices/fake-sriov-node.ts <node state dir> <node netns>
import { join } from "node:path";
import { applyYaml, kubectl } from "../cluster/harness.ts";
import { createDeviceRig, DRA_PF, DRA_RESOURCE, NETDEVICE_RESOURCE, NETDEVICE_VFS, VFIO_RESOURCE, VFIO_VFS } from "../e2e/devices-rig.ts";
import { TestDevicePlugin } from "./device-plugin.ts";
import { TestDraPlugin } from "./dra-plugin.ts";

const [stateDir, netns] = process.argv.slice(2);
if (stateDir === undefined || netns === undefined) {
  process.stderr.write("usage: fake-sriov-node.ts <node state dir> <node netns>\n");
  process.exit(2);
}
const NODE = "localhost";
const DRIVER = "sriov.test.k8s.cni.cncf.io";
const CLASS = "sriovnetwork.openshift.io";

const rig = await createDeviceRig({ name: NODE, netns, stateDir });
const deviceInfoDir = join(stateDir, "devinfo");
const pluginDir = join(stateDir, "device-plugins");
const plugins = [
  new TestDevicePlugin({ pluginDir, resourceName: NETDEVICE_RESOURCE, devices: NETDEVICE_VFS, deviceInfoDir }),
  new TestDevicePlugin({ pluginDir, resourceName: VFIO_RESOURCE, devices: VFIO_VFS, deviceInfoDir }),
];
const dra = new TestDraPlugin({ kubeletRootDir: join(stateDir, "kubelet"), driver: DRIVER, nodeName: NODE, devices: DRA_PF.vfs.map((v) => ({ pci: v.pci, resourceName: DRA_RESOURCE })), deviceInfoDir });

async function stop(): Promise<void> {
  for (const p of plugins) await p.stop();
  await dra.stop();
  await kubectl(["delete", "deviceclass", CLASS, "--ignore-not-found"]).catch(() => "");
  await rig.remove();
}

let stopping = false;
for (const sig of ["SIGTERM", "SIGINT"] as const) {
  process.on(sig, () => {
    if (stopping) return;
    stopping = true;
    void stop().finally(() => process.exit(0));
  });
}

try {
  for (const p of plugins) await p.start();
  await dra.start();
  await applyYaml(JSON.stringify({ apiVersion: "resource.k8s.io/v1", kind: "DeviceClass", metadata: { name: CLASS }, spec: { selectors: [{ cel: { expression: `device.driver == '${DRIVER}'` } }] } }));
  for (let i = 0; i < 120; i++) {
    const allocatable = JSON.parse(await kubectl(["get", "node", NODE, "-o", "jsonpath={.status.allocatable}"])) as Record<string, string>;
    if (allocatable[NETDEVICE_RESOURCE] === String(NETDEVICE_VFS.length) && dra.registered) break;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  process.stdout.write("ready\n");
} catch (err) {
  process.stderr.write(`fake-sriov-node: ${(err as Error).message}\n`);
  await stop();
  process.exit(1);
}
// Stay up until signalled.
setInterval(() => undefined, 1 << 30);
