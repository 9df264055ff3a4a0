// The AttachmentPlan: what one CNI operation on one pod sandbox will do, computed before anything
// touches the node. Every validation error is raised while planning (docs/architecture.md).
import { toCniError } from "../cni/cni-error.ts";
import { MultusError } from "../util/multus-error.ts";
import { validateInterfaceName } from "../cni/plugin-env.ts";
import type { DelegateConfig } from "../cni/delegate-config.ts";

export interface Attachment {
  /** Position in the plan; 0 is the cluster default network. */
  index: number;
  /** Network name as reported in network-status and used for the result cache. */
  network: string;
  ifName: string;
  /** The delegate's config exactly as it will be run (admitted by the gate, src/cni/delegate-config.ts). */
  delegate: DelegateConfig;
  /** True for the cluster default network (gets CNI_IFNAME, the runtime's runtimeConfig, the result). */
  isDefault: boolean;
  /** CNI_ARGS pairs handed to the delegate. */
  cniArgs: [string, string][];
  /** Capability arguments (runtimeConfig) offered to the delegate; filtered by its capabilities. */
  capabilityArgs: Record<string, unknown>;
  /** The selection's `default-route` gateways (at most one attachment has them). */
  defaultRoute?: string[];
  /**
   * Requests no plugin of the network declares a capability for, passed only as CNI_ARGS `IP=`/`MAC=`
   * (as upstream Multus does, for IPAMs like `static` that read them): the attachment succeeds only if
   * its result carries them.
   */
  expect?: { ips?: string[]; mac?: string };
  /** The device this attachment uses (a VF from a device plugin or a DRA claim, or the selection's deviceID). */
  device?: AttachmentDevice;
}

export interface AttachmentDevice {
  /** The device ID (for SR-IOV, the VF's PCI address): the delegate's `deviceID` and `pciBusID`. */
  id: string;
  /** The NAD's resourceName it was assigned from; absent for a selection's own deviceID. */
  resourceName?: string;
  /** This attachment's device-info file (DI-03), passed as CNIDeviceInfoFile and removed on DEL. */
  infoFile: string;
  /** The device plugin's file for the device (DI-02), copied to `infoFile` before the ADD. */
  dpInfoFile?: string;
}

export interface PodRef {
  namespace: string;
  name: string;
  /** The UID the runtime or the API gave; "" when neither did. */
  uid: string;
}

export interface AttachmentPlan {
  containerId: string;
  netns: string;
  /** The CNI_IFNAME the runtime asked for (the default network's interface). */
  ifName: string;
  attachments: Attachment[];
  /** Set when the plan was made for a Kubernetes pod (network-status and events go to it). */
  pod?: PodRef;
}

/** Reject duplicate or invalid interface names across the whole plan, before any delegate runs. */
export function checkInterfaceNames(attachments: readonly Attachment[]): void {
  const seen = new Map<string, string>();
  for (const a of attachments) {
    try {
      validateInterfaceName(a.ifName);
    } catch (err) {
      const cause = toCniError(err);
      throw new MultusError("MULTUS_ERR_INTERFACE_NAME", `network "${a.network}": ${cause.message}: "${a.ifName}"`, { cause });
    }
    const other = seen.get(a.ifName);
    if (other !== undefined) {
      throw new MultusError(
        "MULTUS_ERR_INTERFACE_NAME",
        `network "${a.network}": interface name "${a.ifName}" is already used by network "${other}"; choose another "interface"`,
      );
    }
    seen.set(a.ifName, a.network);
  }
}

/**
 * Delegates get `IgnoreUnknown=true` first (as upstream Multus does, so host-local and friends accept
 * the Kubernetes keys), then the runtime's own pairs in their order.
 */
export function delegateCniArgs(incoming: readonly [string, string][]): [string, string][] {
  const rest = incoming.filter(([k]) => k !== "IgnoreUnknown");
  return [["IgnoreUnknown", "true"], ...rest];
}
