// `multusctl diagnose --repair` tears a sandbox down through the engine's own DEL, as the runtime
// would: the CNI protocol (skel) in front of the same handlers the thin executable runs, with the
// node's Multus config on stdin, the same sandbox and node locks, the same journal, executor,
// delegate runner and result cache. There is no second teardown: what the runtime's DEL would do
// (the journal strict, else upstream's record, else the rebuilt plan best-effort) is what happens.
import { runPlugin, type PluginIo } from "../cni/skel.ts";
import { ALL_VERSIONS } from "../cni/version.ts";
import { clientConfigSource } from "../k8s/client-config.ts";
import { createConflistDelegateRunner } from "../multus/conflist-delegate-runner.ts";
import { createMultusHandlers } from "../multus/multus-plugin.ts";

export interface EngineDelRequest {
  /** The Multus config as the runtime hands it to the plugin (the conf, not the conflist around it). */
  config: Buffer;
  containerId: string;
  /** "" when the sandbox's namespace is gone (CNI: DEL must then still release what it can). */
  netns: string;
  ifName: string;
  /** CNI_ARGS pairs, as the runtime sent them (the pod's K8S_POD_* keys). */
  cniArgs: readonly [string, string][];
  /** CNI_PATH; Multus puts its own binDir first anyway. */
  cniPath: readonly string[];
}

export interface EngineDelOutcome {
  ok: boolean;
  /** The CNI error's message when the DEL failed. */
  error?: string;
}

/** One DEL through the engine; `log` receives the engine's stderr lines (when the config logs to stderr). */
export async function runEngineDel(req: EngineDelRequest, log: (line: string) => void = () => undefined): Promise<EngineDelOutcome> {
  const handlers = createMultusHandlers({
    stderr: log,
    createRunner: createConflistDelegateRunner,
    // As the thin executable: the API only when the config gives access (the rebuilt plan needs it).
    createPodApi: async (config, logger, signal) => (clientConfigSource(config.kubeconfig) === undefined ? undefined : (await import("../multus/kube-pod-api.ts")).createPodApi(config, logger, signal)),
  });
  let stdout = "";
  const io: PluginIo = {
    // Delegates inherit the caller's environment (CNI-P-13), as under a runtime.
    env: {
      ...process.env,
      CNI_COMMAND: "DEL",
      CNI_CONTAINERID: req.containerId,
      CNI_NETNS: req.netns,
      CNI_IFNAME: req.ifName,
      CNI_PATH: req.cniPath.join(":"),
      CNI_ARGS: req.cniArgs.map(([k, val]) => `${k}=${val}`).join(";"),
    },
    stdin: () => Promise.resolve(req.config),
    stdout: (s) => {
      stdout += s;
    },
    stderr: log,
  };
  const code = await runPlugin(io, handlers, { supportedVersions: ALL_VERSIONS, about: "multusctl diagnose --repair" });
  if (code === 0) return { ok: true };
  return { ok: false, error: errorMessage(stdout) };
}

function errorMessage(stdout: string): string {
  try {
    const parsed: unknown = JSON.parse(stdout);
    if (typeof parsed === "object" && parsed !== null) {
      const { msg, details } = parsed as { msg?: unknown; details?: unknown };
      if (typeof msg === "string") return typeof details === "string" && details !== "" ? `${msg} (${details})` : msg;
    }
  } catch {
    // Not the error JSON skel prints: report the text as it is.
  }
  return stdout.trim() === "" ? "the DEL failed without a message" : stdout.trim();
}
