// Config-file mode: the delegates are listed in the Multus config itself (no Kubernetes).
import type { Delegate, MultusConfig } from "./multus-config.ts";
import { checkInterfaceNames, delegateCniArgs, type Attachment, type AttachmentPlan } from "./attachment-plan.ts";

export interface CniRequest {
  containerId: string;
  netns: string;
  ifName: string;
  cniArgs: [string, string][];
  /** The runtimeConfig the runtime sent Multus (capabilities Multus declared). */
  runtimeConfig: Record<string, unknown>;
}

/**
 * The master delegate (`"masterplugin": true`, else the first) is the cluster default network: it runs
 * first, gets CNI_IFNAME and the runtime's runtimeConfig (NPWG-28). The others follow in file order
 * as net1, net2, … — numbered among the secondaries, so moving the master never yields "net0".
 */
export function planFromDelegates(config: MultusConfig, req: CniRequest): AttachmentPlan {
  const ordered = masterFirst(config.delegates);
  const args = delegateCniArgs(req.cniArgs);
  const attachments: Attachment[] = ordered.map((d, index) => ({
    index,
    network: d.name,
    ifName: index === 0 ? req.ifName : `net${index}`,
    delegate: d.delegate,
    isDefault: index === 0,
    cniArgs: args,
    capabilityArgs: index === 0 ? req.runtimeConfig : {},
  }));
  checkInterfaceNames(attachments);
  return { containerId: req.containerId, netns: req.netns, ifName: req.ifName, attachments };
}

/** The master delegate (`"masterplugin": true`, else the first) first, the others in file order. */
export function masterFirst(delegates: readonly Delegate[]): Delegate[] {
  const masterIndex = Math.max(0, delegates.findIndex((d) => d.master));
  return [...delegates.slice(masterIndex, masterIndex + 1), ...delegates.filter((_, i) => i !== masterIndex)];
}
