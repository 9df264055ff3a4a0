// What an ADD publishes once every attachment is up: the `default-route` selection applied in the pod,
// the network-status annotation (a pods/status merge patch with the pod's UID as precondition), and
// the AddedInterface events; and the NetworkAttachmentFailed event when it fails. The thin plugin and
// the daemon publish the same way; how an event is sent (awaited, or queued off the critical path)
// is the PodApi's business.
import type { CniResult } from "../cni/types.ts";
import { readAttachmentInfo } from "../devices/device-info-files.ts";
import { decodeDeviceInfo, networkStatusFromResult, serializeNetworkStatus, type DeviceInfo } from "../netattach/network-status.ts";
import type { Attachment, AttachmentPlan, PodRef } from "./attachment-plan.ts";
import { applyDefaultRoute } from "./default-route.ts";
import type { AttachmentResult } from "./executor.ts";
import type { PodApi } from "./kube-pod-api.ts";

/** Applies default-route and writes network-status; throws when either fails (the caller rolls back). */
export async function publishAttachments(
  api: PodApi,
  target: PodRef,
  plan: AttachmentPlan,
  results: readonly AttachmentResult[],
  timed: <T>(phase: "route" | "status", fn: () => Promise<T>) => Promise<T>,
  warn: (message: string) => void = () => undefined,
): Promise<void> {
  const routed = plan.attachments.find((a) => a.defaultRoute !== undefined);
  if (routed?.defaultRoute !== undefined) {
    const gateways = routed.defaultRoute.length > 0 ? routed.defaultRoute : gatewaysOf(results.find((r) => r.attachment === routed)?.result);
    await timed("route", () => applyDefaultRoute({ netns: plan.netns, ifName: routed.ifName, network: routed.network, gateways }));
  }
  const status = results.map((r) => {
    const deviceInfo = deviceInfoOf(r.attachment, warn);
    return networkStatusFromResult({
      network: r.attachment.network,
      ifName: r.attachment.ifName,
      isDefault: r.attachment.isDefault,
      result: r.result,
      ...(deviceInfo === undefined ? {} : { deviceInfo }),
    });
  });
  await timed("status", () => api.patchNetworkStatus(target, serializeNetworkStatus(status)));
}

/** DI-03: the attachment's device-info file, as the device plugin or the delegate left it. */
function deviceInfoOf(a: Attachment, warn: (message: string) => void): DeviceInfo | undefined {
  if (a.device === undefined) return undefined;
  const json = readAttachmentInfo(a.device.infoFile, warn);
  if (json === undefined) return undefined;
  try {
    return decodeDeviceInfo(json);
  } catch (err) {
    warn(`${a.device.infoFile}: ${(err as Error).message}`);
    return undefined;
  }
}

/** One AddedInterface event per attachment, as upstream Multus records them. */
export async function announceAttachments(api: PodApi, target: PodRef, results: readonly AttachmentResult[]): Promise<void> {
  await Promise.all(
    results.map((r) => api.event(target, "Normal", "AddedInterface", `Add ${r.attachment.ifName} ${addressesOf(r.result)} from ${r.attachment.network}`)),
  );
}

export async function announceFailure(api: PodApi, target: PodRef, message: string): Promise<void> {
  await api.event(target, "Warning", "NetworkAttachmentFailed", message);
}

function gatewaysOf(result: CniResult | undefined): string[] {
  if (result === undefined || !("ips" in result)) return [];
  return (result.ips ?? []).flatMap((ip) => (ip.gateway === undefined ? [] : [ip.gateway]));
}

function addressesOf(result: CniResult): string {
  const ips = "ips" in result ? (result.ips ?? []).map((ip) => ip.address) : [];
  return `[${ips.join(" ")}]`;
}
