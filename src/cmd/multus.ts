// multus: the thin CNI plugin. The runtime execs it with CNI_* env and the Multus config on stdin.
import { processPluginIo, runPlugin } from "../cni/skel.ts";
import { ALL_VERSIONS } from "../cni/version.ts";
import { clientConfigSource } from "../k8s/client-config.ts";
import { createConflistDelegateRunner } from "../multus/conflist-delegate-runner.ts";
import { createMultusHandlers } from "../multus/multus-plugin.ts";
import { nativeModule } from "../util/native-module.ts";

// multus-install's host check (src/install/host-check.ts) runs this executable chrooted in the node's
// root for a VERSION with MULTUS_TS_HOST_CHECK=1: it then also loads multus-native.node as an ADD's
// first lock would, and says on stderr how that went, so that a module the node cannot load is
// reported at install rather than found at the first lock. stdout stays the VERSION result.
if (process.env["MULTUS_TS_HOST_CHECK"] === "1" && process.env["CNI_COMMAND"] === "VERSION") {
  let report: string;
  try {
    report = nativeModule() === null ? "absent" : "loaded";
  } catch (err) {
    report = (err as Error).message.replace(/\n/g, " ");
  }
  process.stderr.write(`multus-native.node: ${report}\n`);
}

const handlers = createMultusHandlers({
  oneCallPerProcess: true,
  stderr: (line) => {
    process.stderr.write(line);
  },
  createRunner: createConflistDelegateRunner,
  // Loaded only when a call has a pod and API access: config-file mode never pays for the client
  // (≈ 9 ms of loading HTTP/2 and TLS, docs/performance.md), even when the runtime names a pod.
  createPodApi: async (config, log, signal) => (clientConfigSource(config.kubeconfig) === undefined ? undefined : (await import("../multus/kube-pod-api.ts")).createPodApi(config, log, signal)),
});

// No top-level await: SEA runs a CommonJS bundle.
void runPlugin(processPluginIo(), handlers, {
  supportedVersions: ALL_VERSIONS,
  about: "Multus-TS: a CNI meta-plugin that attaches a pod to several networks",
}).then((code) => {
  process.exitCode = code;
});
