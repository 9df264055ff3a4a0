// The executor's DelegateRunner over the CNI library's ConflistRunner (libcni semantics, result cache
// in `<cniDir>/results`, as upstream Multus keeps it). Each call runs within the operation's budget,
// and its plugins inherit the operation's sandbox locks.
import { ConflistRunner, type NetworkConfigList, type OperationOptions } from "../cni/conflist-runner.ts";
import { DELEGATE_MARKER_ENV, isAdmitted, type DelegateConfig } from "../cni/delegate-config.ts";
import { CniCode, CniError } from "../cni/cni-error.ts";
import type { Spawner } from "../cni/exec-plugin.ts";
import type { Logger } from "../util/logger.ts";
import { nativeSpawner } from "../util/native-spawn.ts";
import type { DelegateRunner, OperationContext } from "./executor.ts";
import type { MultusConfig } from "./multus-config.ts";

/** Without delegateTimeoutSeconds a plugin is bounded by the operation's budget alone. */
const NO_PER_PLUGIN_CAP_MS = 24 * 3600 * 1000;

export function createConflistDelegateRunner(
  config: MultusConfig,
  pluginDirs: string[],
  log: Logger,
  env: Readonly<Record<string, string | undefined>> = process.env,
): DelegateRunner {
  // The per-plugin cap is delegateTimeoutSeconds when set; the operation's budget bounds it anyway.
  // Plugins get the caller's environment (the runtime's, through the shim in thick mode), CNI-P-13,
  // plus the marker that makes a multus started by one of them refuse to run (docs/security.md).
  const runner = new ConflistRunner({
    cacheDir: config.cniDir,
    pluginDirs,
    timeoutMs: config.delegateTimeoutMs ?? NO_PER_PLUGIN_CAP_MS,
    logger: log,
    env: { ...env, [DELEGATE_MARKER_ENV]: String(process.pid) },
    // posix_spawn through multus-native.node when it is installed: no copy of our address space.
    ...spawnerOption(),
  });
  return {
    add: (list, req, ctx) => runner.addNetworkList(toRunnable(list), req, optionsOf(ctx)),
    del: (list, req, ctx) => runner.delNetworkList(toRunnable(list), req, optionsOf(ctx)),
    check: (list, req, ctx) => runner.checkNetworkList(toRunnable(list), req, optionsOf(ctx)),
    status: (list, ctx) => runner.getStatusNetworkList(toRunnable(list), optionsOf(ctx)),
    gc: (list, valid, ctx) => runner.gcNetworkList(toRunnable(list), valid, optionsOf(ctx)),
    cachedAttachments: () => runner.getCachedAttachments(),
  };
}

function spawnerOption(): { spawner?: Spawner } {
  const spawner = nativeSpawner();
  return spawner === undefined ? {} : { spawner };
}

function optionsOf(ctx: OperationContext): OperationOptions {
  const opts: OperationOptions = { deadline: { at: ctx.budget.deadline, reason: `used up what was left of ${ctx.budget.describe()}` } };
  if (ctx.lock !== undefined) {
    opts.inheritFds = ctx.lock.inheritFds;
    opts.onSpawn = ctx.lock.onSpawn;
    opts.onExit = ctx.lock.onExit;
  }
  return opts;
}

/** Only what the gate admitted runs; it was parsed for the runner once, at admission. */
function toRunnable(config: DelegateConfig): NetworkConfigList {
  if (!isAdmitted(config)) throw new CniError(CniCode.Internal, "a delegate config that did not pass the gate (src/cni/delegate-config.ts) was about to run");
  return config.runnable;
}
