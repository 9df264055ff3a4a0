// multus-install: the DaemonSet's installer (initContainer, and the thin DaemonSet's long-running
// container). Flags follow upstream's thin entrypoint and install_multus where they exist
// (docs/install.md lists them all); paths are the host's, mounted at the same paths in the pod.
//
//   multus-install --type thick                      copy multus-shim + multus to /opt/cni/bin, exit
//   multus-install --type thin [--skip-config-watch] executables, kubeconfig, 00-multus.conf; watch
//   multus-install --type thin --move-original-config   seed 004: master → /etc/cni/multus/net.d + NAD
//   multus-install uninstall                          put the node back as it was
// Before any config, the copied executables are run chrooted in the node's root (--host-root, default
// /hostroot) for a CNI VERSION; a node that cannot run them fails the install (--skip-host-check).
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { SERVICE_ACCOUNT_DIR } from "../k8s/client-config.ts";
import { install, uninstall, type InstallOptions } from "../install/installer.ts";
import { parseMultusConfig } from "../multus/multus-config.ts";
import { createLogger, parseLogLevel } from "../util/logger.ts";

const VERSION = "multus-ts 0.1.0";
const LOG_LEVELS = ["debug", "verbose", "error", "panic"];

const OPTIONS = {
  type: { type: "string", short: "t" },
  "source-dir": { type: "string" },
  "cni-bin-dir": { type: "string" },
  "dest-dir": { type: "string", short: "d" },
  "cni-conf-dir": { type: "string" },
  "multus-cni-conf-dir": { type: "string" },
  "multus-conf-file": { type: "string" },
  "multus-autoconfig-dir": { type: "string" },
  "multus-master-cni-file-name": { type: "string" },
  "multus-kubeconfig-file-host": { type: "string" },
  "skip-multus-binary-copy": { type: "boolean" },
  "host-root": { type: "string" },
  "skip-host-check": { type: "boolean" },
  "skip-config-watch": { type: "boolean" },
  "move-original-config": { type: "boolean" },
  "rename-conf-file": { type: "boolean" },
  "cleanup-config-on-exit": { type: "boolean" },
  "override-network-name": { type: "boolean" },
  "namespace-isolation": { type: "boolean" },
  "global-namespaces": { type: "string" },
  "delegate-policy": { type: "string" },
  "readiness-indicator-file": { type: "string" },
  "additional-bin-dir": { type: "string" },
  "cni-version": { type: "string" },
  "force-cni-version": { type: "boolean" },
  "skip-tls-verify": { type: "boolean" },
  "multus-log-level": { type: "string" },
  "multus-log-file": { type: "string" },
  "multus-log-to-stderr": { type: "boolean" },
  "multus-bin-file": { type: "string" },
  "nad-namespace": { type: "string" },
  "state-file": { type: "string" },
  "service-account-dir": { type: "string" },
  "resync-seconds": { type: "string" },
  version: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

/**
 * --delegate-policy '<JSON>': the Multus config's delegatePolicy (docs/security.md), checked now with
 * the engine's own schema, so that a typo fails the install rather than every pod.
 */
function delegatePolicyFlag(text: string): unknown {
  let policy: unknown;
  try {
    policy = JSON.parse(text);
  } catch (err) {
    fail(`--delegate-policy is not JSON: ${(err as Error).message}`);
  }
  try {
    parseMultusConfig({ cniVersion: "1.0.0", clusterNetwork: "any", delegatePolicy: policy }, "--delegate-policy");
  } catch (err) {
    fail((err as Error).message);
  }
  return policy;
}

function fail(message: string): never {
  process.stderr.write(`multus-install: ${message}\n`);
  process.exit(1);
}

/**
 * pflag (upstream's parser) also takes `--flag=true` and `--flag=false` for a boolean; node's
 * parseArgs does not. Rewritten here: `--x=true` → `--x`, `--x=false` → dropped (and remembered,
 * for the one flag whose default is true upstream: --multus-log-to-stderr).
 */
function normaliseBooleans(argv: readonly string[]): { args: string[]; falsed: Set<string> } {
  const booleans = new Set(Object.entries(OPTIONS).filter(([, o]) => o.type === "boolean").map(([k]) => k));
  const args: string[] = [];
  const falsed = new Set<string>();
  for (const a of argv) {
    const m = /^--([a-z-]+)=(true|false)$/.exec(a);
    if (m?.[1] !== undefined && booleans.has(m[1])) {
      if (m[2] === "true") args.push(`--${m[1]}`);
      else falsed.add(m[1]);
      continue;
    }
    args.push(a);
  }
  return { args, falsed };
}

function main(): void {
  let parsed;
  const { args, falsed } = normaliseBooleans(process.argv.slice(2));
  try {
    parsed = parseArgs({ args, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    fail(`${(err as Error).message} (multus-install --help lists the flags)`);
  }
  const { values: v, positionals } = parsed;
  if (v.version === true) {
    process.stdout.write(`multus-install: ${VERSION}\n`);
    return;
  }
  if (v.help === true) {
    process.stdout.write(`usage: multus-install --type thick|thin [flags] | multus-install uninstall [--cni-conf-dir DIR]\nflags: ${Object.keys(OPTIONS).map((k) => `--${k}`).join(" ")}\nsee docs/install.md\n`);
    return;
  }
  const cniConfDir = v["cni-conf-dir"] ?? "/etc/cni/net.d";
  const statePath = v["state-file"] ?? join(cniConfDir, "multus.d", "install-state.json");
  const saDir = v["service-account-dir"] ?? SERVICE_ACCOUNT_DIR;
  const level = v["multus-log-level"];
  if (level !== undefined && !LOG_LEVELS.includes(level)) fail(`--multus-log-level must be one of ${LOG_LEVELS.join(", ")}, not "${level}"`);
  const log = createLogger({ level: parseLogLevel(v["multus-log-level"], "verbose"), stderr: (l) => process.stderr.write(l), component: "multus-install" });
  const command = positionals[0] ?? "install";
  if (command === "uninstall") {
    void uninstall({ statePath, saDir, env: process.env, log }).then(
      () => undefined,
      (err: unknown) => {
        fail(`uninstall failed: ${(err as Error).message}`);
      },
    );
    return;
  }
  if (command !== "install") fail(`unknown command "${command}": install (the default) or uninstall`);
  const type = v.type;
  if (type !== "thick" && type !== "thin") fail(`--type must be thick or thin${type === undefined ? "" : `, not "${type}"`}`);
  if (v["move-original-config"] === true && type !== "thin") fail("--move-original-config is a thin-mode install (the daemon of thick mode generates its own config)");
  if (v["move-original-config"] === true && v["rename-conf-file"] === true) fail("--move-original-config and --rename-conf-file both move the master config: choose one");
  if (v["cleanup-config-on-exit"] === true && (v["move-original-config"] === true || v["rename-conf-file"] === true)) {
    fail("--cleanup-config-on-exit with a moved master config would leave the node with no CNI config on exit: use multus-install uninstall to restore it");
  }
  if (v["multus-bin-file"] !== undefined && v["source-dir"] !== undefined) fail("--multus-bin-file and --source-dir both say where the executables are: choose one");
  const resync = v["resync-seconds"] === undefined ? 5 : Number(v["resync-seconds"]);
  if (!Number.isFinite(resync) || resync <= 0) fail(`--resync-seconds must be a positive number, not "${v["resync-seconds"] ?? ""}"`);
  const kubeconfigHostPath = v["multus-kubeconfig-file-host"] ?? join(cniConfDir, "multus.d", "multus.kubeconfig");
  const thinKeys: Record<string, unknown> = {};
  if (v["namespace-isolation"] === true) thinKeys["namespaceIsolation"] = true;
  if (v["global-namespaces"] !== undefined) thinKeys["globalNamespaces"] = v["global-namespaces"];
  if (v["delegate-policy"] !== undefined) thinKeys["delegatePolicy"] = delegatePolicyFlag(v["delegate-policy"]);
  if (v["readiness-indicator-file"] !== undefined) thinKeys["readinessindicatorfile"] = v["readiness-indicator-file"];
  if (v["additional-bin-dir"] !== undefined) thinKeys["binDir"] = v["additional-bin-dir"];
  if (v["multus-log-level"] !== undefined) thinKeys["logLevel"] = v["multus-log-level"];
  if (v["multus-log-file"] !== undefined) thinKeys["logFile"] = v["multus-log-file"];
  if (v["multus-log-to-stderr"] === true) thinKeys["logToStderr"] = true;
  if (falsed.has("multus-log-to-stderr")) thinKeys["logToStderr"] = false;
  const opts: InstallOptions = {
    type,
    // upstream's --multus-bin-file names the multus binary; the others sit beside it.
    sourceDir: v["source-dir"] ?? (v["multus-bin-file"] === undefined ? dirname(process.execPath) : dirname(v["multus-bin-file"])),
    cniBinDir: v["cni-bin-dir"] ?? v["dest-dir"] ?? "/opt/cni/bin",
    cniConfDir,
    multusCniConfDir: v["multus-cni-conf-dir"] ?? "/etc/cni/multus/net.d",
    multusConfFile: v["multus-conf-file"] ?? "auto",
    multusAutoconfigDir: v["multus-autoconfig-dir"] ?? cniConfDir,
    multusMasterCniFileName: v["multus-master-cni-file-name"],
    kubeconfigPath: kubeconfigHostPath,
    skipBinaryCopy: v["skip-multus-binary-copy"] === true,
    hostRoot: v["host-root"] ?? "/hostroot",
    skipHostCheck: v["skip-host-check"] === true,
    skipConfigWatch: v["skip-config-watch"] === true,
    moveOriginalConfig: v["move-original-config"] === true,
    renameConfFile: v["rename-conf-file"] === true,
    cleanupConfigOnExit: v["cleanup-config-on-exit"] === true,
    overrideNetworkName: v["override-network-name"] === true,
    cniVersion: v["cni-version"],
    thinKeys,
    nadNamespace: v["nad-namespace"] ?? "kube-system",
    saDir,
    env: process.env,
    skipTlsVerify: v["skip-tls-verify"] === true,
    statePath,
    log,
    resyncMs: resync * 1000,
  };
  // Handlers first: in a pod multus-install is PID 1, which ignores signals it has no handler for.
  let stopRequested = false;
  let stopRunning: (() => Promise<void>) | undefined;
  const onSignal = (): void => {
    stopRequested = true;
    if (stopRunning === undefined) return;
    stopRunning().catch((err: unknown) => {
      fail(`stopping failed: ${(err as Error).message}`);
    });
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  void install(opts).then(
    (running) => {
      stopRunning = () => running.stop();
      if (stopRequested) onSignal();
      void running.done.then(() => {
        process.exit(0);
      });
    },
    (err: unknown) => {
      fail(`install failed: ${(err as Error).message}`);
    },
  );
}

main();
