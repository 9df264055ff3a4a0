// passthru: a CNI plugin that configures nothing and returns an empty result (upstream Multus ships it
// so that a NAD can exist for an interface another component manages).
import { processPluginIo, runPlugin } from "../cni/skel.ts";

const SUPPORTED = ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"] as const;

// No top-level await: SEA runs a CommonJS bundle.
void runPlugin(
  processPluginIo(),
  {
    add: (args) => Promise.resolve({ cniVersion: args.config.cniVersion, interfaces: [], ips: [], routes: [], dns: {} }),
    del: () => Promise.resolve(),
    check: () => Promise.resolve(),
    gc: () => Promise.resolve(),
    status: () => Promise.resolve(),
  },
  { supportedVersions: SUPPORTED, about: "Multus-TS passthru CNI plugin: returns an empty result, configures nothing" },
).then((code) => {
  process.exitCode = code;
});
