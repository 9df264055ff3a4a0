// Resolving network references to delegate configs for the pod planner. NADs come from an injected
// getter (the API in thin mode, an informer cache in the daemon); config files from confDir.
import { readdir, stat } from "node:fs/promises";
import { isAbsolute, join } from "node:path";
import type { DelegateConfig } from "../cni/delegate-config.ts";
import { KubeNotFoundError } from "../k8s/kube-api-error.ts";
import { isDns1123Label } from "../netattach/address-syntax.ts";
import { decodeLegacyNetwork, delegateConfigFromLegacyNetwork } from "../netattach/legacy-network.ts";
import {
  decodeNad,
  delegateConfigFromFile,
  delegateConfigFromNad,
  findDelegateConfigByName,
  resourceNameOf,
} from "../netattach/network-attachment-definition.ts";
import type { Logger } from "../util/logger.ts";
import { MultusError } from "../util/multus-error.ts";
import type { MultusConfig } from "./multus-config.ts";
import type { NetworkResolver } from "./pod-planner.ts";

export interface ResolvedNetwork {
  delegate: DelegateConfig;
  /** The name network-status reports: `namespace/name` for a NAD, the CNI name for a file. */
  statusName: string;
  /** The NAD's k8s.v1.cni.cncf.io/resourceName (device plugin / DRA), if any. */
  resourceName?: string;
}

/** Returns the raw NAD object, or undefined when the API says 404. */
export type NadGetter = (namespace: string, name: string) => Promise<unknown>;

/**
 * `getLegacyNetwork` reads Multus v1's kubernetes.com/v1 Network objects (legacyNetworks); without it,
 * a legacy selection fails with a message saying what is missing.
 */
export function createNetworkResolver(config: MultusConfig, getNad: NadGetter | undefined, log: Logger, getLegacyNetwork?: NadGetter): NetworkResolver {
  const options = { defaultCniVersion: config.cniVersion, policy: config.delegatePolicy, logger: log };

  const fromLegacyNetwork = async (namespace: string, name: string, podRef: string): Promise<ResolvedNetwork> => {
    if (getLegacyNetwork === undefined) {
      throw new MultusError("MULTUS_ERR_CONFIG", `pod ${podRef}: network "${namespace}/${name}" is a legacy Network object but Multus has no Kubernetes API access; set "kubeconfig"`);
    }
    let raw: unknown;
    try {
      raw = await getLegacyNetwork(namespace, name);
    } catch (err) {
      if (err instanceof KubeNotFoundError && err.typeNotServed) {
        throw new MultusError(
          "MULTUS_ERR_CONFIG",
          `pod ${podRef}: its "networks" annotation names legacy Network objects, but the API server does not serve networks.kubernetes.com; install the CRD (kubectl apply -k deploy/legacy) or move the pod to NetworkAttachmentDefinitions (multusctl migrate)`,
          { cause: err },
        );
      }
      throw err;
    }
    if (raw === undefined) {
      throw new MultusError(
        "MULTUS_ERR_NAD_NOT_FOUND",
        `pod ${podRef}: Network ${namespace}/${name} (kubernetes.com/v1) not found; create it or fix the pod's "networks" annotation`,
      );
    }
    const net = decodeLegacyNetwork(raw);
    return { delegate: delegateConfigFromLegacyNetwork(net, options), statusName: `${namespace}/${name}` };
  };

  const fromNad = async (namespace: string, name: string, podRef: string): Promise<ResolvedNetwork> => {
    if (getNad === undefined) {
      throw new MultusError("MULTUS_ERR_CONFIG", `pod ${podRef}: network "${namespace}/${name}" is a NetworkAttachmentDefinition but Multus has no Kubernetes API access; set "kubeconfig"`);
    }
    const raw = await getNad(namespace, name);
    if (raw === undefined) {
      throw new MultusError(
        "MULTUS_ERR_NAD_NOT_FOUND",
        `pod ${podRef}: NetworkAttachmentDefinition ${namespace}/${name} not found; create it or fix the pod's network selection`,
      );
    }
    const nad = decodeNad(raw);
    const list = await delegateConfigFromNad(nad, config.confDir, options);
    const resolved: ResolvedNetwork = { delegate: list, statusName: `${namespace}/${name}` };
    const resourceName = resourceNameOf(nad);
    if (resourceName !== undefined) resolved.resourceName = resourceName;
    return resolved;
  };

  // clusterNetwork / defaultNetworks (upstream's order): a NAD in multusNamespace, the CNI name of a
  // file in confDir, a directory (its first config file), an absolute file path.
  const fromReference = async (ref: string, podRef: string): Promise<ResolvedNetwork> => {
    let apiError: Error | undefined;
    if (getNad !== undefined && isDns1123Label(ref)) {
      let raw: unknown;
      try {
        raw = await getNad(config.multusNamespace, ref);
      } catch (err) {
        // As upstream: an API that cannot answer does not hide a config file of that name.
        apiError = err instanceof Error ? err : new Error(String(err));
      }
      if (raw !== undefined) return fromNad(config.multusNamespace, ref, podRef);
    }
    const byName = await findDelegateConfigByName(config.confDir, ref, options);
    if (byName !== undefined) {
      if (apiError !== undefined) {
        log.warn({ network: ref, error: apiError.message, file: byName.name }, "NetworkAttachmentDefinition lookup failed; using the config file with that CNI name");
      }
      return { delegate: byName, statusName: byName.name };
    }
    if (apiError !== undefined) throw apiError;
    if (isAbsolute(ref)) {
      const st = await stat(ref).catch(() => undefined);
      if (st?.isDirectory() === true) {
        const first = (await readdir(ref)).filter((f) => /\.(conflist|conf|json)$/.test(f)).sort()[0];
        if (first !== undefined) {
          const list = await delegateConfigFromFile(join(ref, first), options);
          return { delegate: list, statusName: list.name };
        }
      } else if (st?.isFile() === true) {
        const list = await delegateConfigFromFile(ref, options);
        return { delegate: list, statusName: list.name };
      }
    }
    throw new MultusError(
      "MULTUS_ERR_CONFIG",
      `network "${ref}" (clusterNetwork/defaultNetworks) is not a NetworkAttachmentDefinition in ${config.multusNamespace}, not the name of a config in ${config.confDir}, and not a config file or directory`,
    );
  };

  return { fromNad, fromReference, fromLegacyNetwork };
}
