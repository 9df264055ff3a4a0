// The executor's DelegateRunner over the CNI library's ConflistRunner (libcni semantics, result cache
// in `<cniDir>/results`, as upstream Multus keeps it).
import { ConflistRunner, parseNetworkConfigList, type NetworkConfigList } from "../cni/conflist-runner.ts";
import type { NetConfList } from "../cni/types.ts";
import type { Logger } from "../util/logger.ts";
import type { DelegateRunner } from "./executor.ts";
import type { MultusConfig } from "./multus-config.ts";

export function createConflistDelegateRunner(config: MultusConfig, pluginDirs: string[], log: Logger): DelegateRunner {
  const runner = new ConflistRunner({ cacheDir: config.cniDir, pluginDirs, timeoutMs: config.delegateTimeoutMs, logger: log });
  return {
    add: (list, req) => runner.addNetworkList(toRunnable(list), req),
    del: (list, req) => runner.delNetworkList(toRunnable(list), req),
    check: (list, req) => runner.checkNetworkList(toRunnable(list), req),
    status: (list) => runner.getStatusNetworkList(toRunnable(list)),
    gc: (list, valid) => runner.gcNetworkList(toRunnable(list), valid),
  };
}

/** The runner caches the exact config bytes; the list is serialised once per call. */
function toRunnable(list: NetConfList): NetworkConfigList {
  return parseNetworkConfigList(Buffer.from(JSON.stringify(list)));
}
