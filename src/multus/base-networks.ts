// The networks every pod gets, from the Multus config alone: the cluster network (clusterNetwork, or
// the config's delegates, master first) and then defaultNetworks. STATUS answers for exactly these
// (a broken plugin used by one NAD must not make the whole node NotReady), GC forwards to them, and a
// DEL that finds no record of a sandbox still tears them down.
import { toCniError } from "../cni/cni-error.ts";
import type { Logger } from "../util/logger.ts";
import { delegateCniArgs, type Attachment, type AttachmentPlan } from "./attachment-plan.ts";
import { masterFirst, type CniRequest } from "./config-file-planner.ts";
import type { MultusConfig } from "./multus-config.ts";
import type { ResolvedNetwork } from "./network-resolver.ts";
import type { NetworkResolver } from "./pod-planner.ts";

export interface BaseNetwork {
  /** How the config names it: the clusterNetwork/defaultNetworks entry, or the delegate's name. */
  ref: string;
  role: "cluster" | "default";
  /** Its place in every pod's plan: 0 is the cluster network (CNI_IFNAME), then net1, net2, … */
  position: number;
  net: ResolvedNetwork;
}

export interface BaseNetworkFailure {
  ref: string;
  role: "cluster" | "default";
  error: Error;
}

/**
 * Resolve every base network independently: one that cannot be resolved (a NAD while the API is
 * unreachable, a file that is gone) is reported in `failures` and does not hide the others.
 */
export async function resolveBaseNetworks(
  config: MultusConfig,
  resolver: NetworkResolver,
  podRef: string,
): Promise<{ networks: BaseNetwork[]; failures: BaseNetworkFailure[] }> {
  const networks: BaseNetwork[] = [];
  const failures: BaseNetworkFailure[] = [];
  let position = 0;
  const one = async (ref: string, role: "cluster" | "default"): Promise<void> => {
    const at = position++;
    try {
      networks.push({ ref, role, position: at, net: await resolver.fromReference(ref, podRef) });
    } catch (err) {
      failures.push({ ref, role, error: toCniError(err) });
    }
  };
  if (config.clusterNetwork !== undefined) await one(config.clusterNetwork, "cluster");
  else {
    // Every delegate is attached to every pod; the master is the cluster network.
    for (const d of masterFirst(config.delegates)) {
      const at = position++;
      networks.push({ ref: d.name, role: at === 0 ? "cluster" : "default", position: at, net: { delegate: d.delegate, statusName: d.name } });
    }
  }
  for (const ref of config.defaultNetworks) await one(ref, "default");
  return { networks, failures };
}

/**
 * The teardown of a sandbox nothing is recorded for, from the config alone: its base networks with the
 * interface names the ADD gave them (CNI_IFNAME first, then net1, net2, …) and the runtime's
 * runtimeConfig on the cluster network (portmap needs its port mappings to remove the rules).
 */
export async function baseNetworksPlan(config: MultusConfig, req: CniRequest, resolver: NetworkResolver, log: Logger): Promise<AttachmentPlan> {
  const { networks, failures } = await resolveBaseNetworks(config, resolver, "(unknown pod)");
  for (const f of failures) {
    log.warn({ containerId: req.containerId, network: f.ref, error: f.error.message }, "a network every pod gets cannot be resolved from the config; it is not torn down");
  }
  const args = delegateCniArgs(req.cniArgs);
  const attachments: Attachment[] = networks.map((b, index) => ({
    index,
    network: b.net.statusName,
    ifName: b.position === 0 ? req.ifName : `net${String(b.position)}`,
    delegate: b.net.delegate,
    isDefault: b.position === 0,
    cniArgs: args,
    capabilityArgs: b.position === 0 ? req.runtimeConfig : {},
  }));
  return { containerId: req.containerId, netns: req.netns, ifName: req.ifName, attachments };
}
