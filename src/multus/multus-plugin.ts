// The multus CNI plugin's commands, shared by the thin executable (and later the daemon): parse the
// config, plan, execute. Config-file mode for now: the delegates come from the config's `delegates`.
import { CniCode, CniError } from "../cni/cni-error.ts";
import type { CmdArgs, PluginHandlers } from "../cni/skel.ts";
import type { CniResult } from "../cni/types.ts";
import { parseCniArgs } from "../cni/plugin-env.ts";
import { createLogger, parseLogLevel, type Logger } from "../util/logger.ts";
import { AttachmentRecords } from "./attachment-record.ts";
import type { AttachmentPlan } from "./attachment-plan.ts";
import { planFromDelegates, type CniRequest } from "./config-file-planner.ts";
import { Executor, type DelegateRunner } from "./executor.ts";
import { parseMultusConfig, type MultusConfig } from "./multus-config.ts";

export interface MultusPluginDeps {
  /** Where log lines go besides `logFile` (the process's stderr). */
  stderr: (line: string) => void;
  /** Builds the CNI runtime for one call; the paths come from the config and CNI_PATH. */
  createRunner: (config: MultusConfig, cniPath: string[], log: Logger) => DelegateRunner;
}

interface Call {
  config: MultusConfig;
  log: Logger;
  executor: Executor;
  records: AttachmentRecords;
}

export function createMultusHandlers(deps: MultusPluginDeps): PluginHandlers {
  const setup = (args: CmdArgs): Call => {
    const config = parseMultusConfig(args.config, "the Multus config on stdin");
    const log = createLogger({
      level: parseLogLevel(config.logLevel, "error"),
      stderr: config.logToStderr ? deps.stderr : undefined,
      file: config.logFile,
      component: "multus",
    });
    if (config.delegates.length === 0) {
      // Kubernetes-driven modes (clusterNetwork) arrive with the engine; say so instead of doing nothing.
      throw new CniError(CniCode.InvalidNetworkConfig, 'this multus build runs config-file mode only: list the networks in "delegates"');
    }
    // Multus's binDir comes first, then the runtime's CNI_PATH (upstream behaviour).
    const runner = deps.createRunner(config, [config.binDir, ...args.path], log);
    const records = new AttachmentRecords(config.cniDir);
    return { config, log, executor: new Executor(runner, records, log), records };
  };

  const request = (args: CmdArgs, config: MultusConfig): CniRequest => ({
    containerId: args.containerId,
    netns: args.netns,
    ifName: args.ifName,
    cniArgs: parseCniArgs(args.args),
    runtimeConfig: config.runtimeConfig,
  });

  /** The recorded plan, else one rebuilt from the config (the same input gives the same plan). */
  const recordedOrRebuilt = async (call: Call, args: CmdArgs): Promise<{ plan: AttachmentPlan; recorded: boolean }> => {
    const rec = await call.records.read(args.containerId);
    if (rec !== undefined && "plan" in rec) return { plan: rec.plan, recorded: true };
    if (rec !== undefined) {
      call.log.warn(
        { containerId: args.containerId, path: call.records.pathOf(args.containerId), reason: rec.corrupt },
        "attachment record unreadable, rebuilding it from the config",
      );
    }
    return { plan: planFromDelegates(call.config, request(args, call.config)), recorded: false };
  };

  return {
    async add(args): Promise<CniResult> {
      const call = setup(args);
      const plan = planFromDelegates(call.config, request(args, call.config));
      const results = await call.executor.add(plan);
      const main = results.find((r) => r.attachment.isDefault) ?? results[0];
      if (main === undefined) throw new CniError(CniCode.InvalidNetworkConfig, "no delegate produced a result");
      return main.result;
    },

    async del(args): Promise<void> {
      const call = setup(args);
      const { plan, recorded } = await recordedOrRebuilt(call, args);
      // CNI DEL: the runtime's current CNI_NETNS wins (it may be empty once the sandbox is gone).
      await call.executor.del({ ...plan, netns: args.netns }, { bestEffort: !recorded });
    },

    async check(args): Promise<void> {
      const call = setup(args);
      const rec = await call.records.read(args.containerId);
      if (rec === undefined || !("plan" in rec)) {
        throw new CniError(CniCode.UnknownContainer, `no attachments are recorded for container ${args.containerId}: CHECK needs a completed ADD`);
      }
      await call.executor.check({ ...rec.plan, netns: args.netns });
    },

    async status(args): Promise<void> {
      const call = setup(args);
      await call.executor.status(call.config.delegates.map((d) => d.list));
    },

    async gc(args): Promise<void> {
      const call = setup(args);
      await call.executor.gc(call.config.delegates.map((d) => d.list), args.validAttachments);
    },
  };
}
