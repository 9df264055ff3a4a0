// vfioveth: the CNI plugin that describes a vfio-pci VF to a DPDK pod (src/devices/vfio-veth.ts).
import { processPluginIo, runPlugin } from "../cni/skel.ts";
import { vfioVethAdd, vfioVethCheck, vfioVethDel } from "../devices/vfio-veth.ts";

const SUPPORTED = ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"] as const;

// No top-level await: SEA runs a CommonJS bundle.
void runPlugin(
  processPluginIo(),
  {
    add: vfioVethAdd,
    del: vfioVethDel,
    check: vfioVethCheck,
    gc: () => Promise.resolve(),
    status: () => Promise.resolve(),
  },
  { supportedVersions: SUPPORTED, about: "Multus-TS vfioveth CNI plugin: a veth pair with a vfio-pci VF's MAC, IP and PCI address" },
).then((code) => {
  process.exitCode = code;
});
