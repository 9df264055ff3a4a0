// Host paths of the device world: the kubelet's (PodResources socket, device manager checkpoint) and
// the device-info spec's (DI-02, DI-03). Kept free of imports beyond node:path: the planner uses
// them on every call, the PodResources client loads only when a network names a device.
import { join } from "node:path";

/** The kubelet's PodResources socket: <--root-dir>/pod-resources/kubelet.sock. */
export const DEFAULT_POD_RESOURCES_SOCKET = "/var/lib/kubelet/pod-resources/kubelet.sock";

/** The device manager's checkpoint; its directory is fixed (not under --root-dir). */
export const DEFAULT_DEVICE_CHECKPOINT = "/var/lib/kubelet/device-plugins/kubelet_internal_checkpoint";

/** The spec's directory; /var/run is /run on current hosts. */
export const DEFAULT_DEVICE_INFO_DIR = "/var/run/k8s.cni.cncf.io/devinfo";

const slashless = (s: string): string => s.replaceAll("/", "-");

/** DI-02: the device plugin's file for one device. */
export function devicePluginInfoPath(dir: string, resourceName: string, deviceId: string): string {
  return join(dir, "dp", `${slashless(resourceName)}-${slashless(deviceId)}-device.json`);
}

/** DI-03, Multus's naming: `<network>-<containerID>_<ifname>-device.json` ("/" → "-"). */
export function attachmentInfoPath(dir: string, network: string, containerId: string, ifName: string): string {
  return join(dir, "cni", `${slashless(network)}-${slashless(containerId)}_${ifName}-device.json`);
}

/** What every attachment file of a container has in its name. */
export function containerInfoMark(containerId: string): string {
  return `-${slashless(containerId)}_`;
}
