// vfioveth (seed 000's DPDK pod): a vfio-pci VF has no netdev for the pod to look at, so the app
// learns its VF's MAC and IP from a veth pair in the pod's netns: `$CNI_IFNAME` carries the VF's MAC,
// the IPAM address and, as its alias, the VF's PCI address; its peer `$CNI_IFNAME-vdev` is up beside
// it. The VF (Multus injects its PCI address as `deviceID`) is found in sysfs: `physfn` names its PF,
// the PF's `virtfn<N>` link that points back to it gives its index, and the PF's VF table (netlink,
// `ip -json link show <pf>`: vfinfo_list[N].address) its MAC. A MAC asked for in the selection
// (`mac`: runtimeConfig, config or CNI_ARGS MAC=) is used instead. `sysfsRoot` (config) points at another sysfs.
import { existsSync, readdirSync, readlinkSync } from "node:fs";
import { basename, join } from "node:path";
import { CniCode, CniError } from "../cni/cni-error.ts";
import { execPlugin, findPlugin } from "../cni/exec-plugin.ts";
import { parseCniArgs } from "../cni/plugin-env.ts";
import type { CmdArgs } from "../cni/skel.ts";
import { decodeResult } from "../cni/result-decode.ts";
import { convertResult } from "../cni/result-convert.ts";
import type { CniResult, Result100 } from "../cni/types.ts";
import { execFileWithDeadline } from "../util/exec-file.ts";

const IP_TIMEOUT_MS = 10_000;
const IPAM_TIMEOUT_MS = 60_000;

export interface VfInfo {
  pf: string;
  pfNetdev: string;
  index: number;
  driver: string;
}

/** The VF's PF, its netdev, the VF's index on it and the VF's driver, from sysfs. */
export function vfInfo(sysfsRoot: string, vf: string): VfInfo {
  const devices = join(sysfsRoot, "bus", "pci", "devices");
  const vfDir = join(devices, vf);
  if (!existsSync(vfDir)) throw new CniError(CniCode.InvalidNetworkConfig, `vfioveth: no PCI device ${vf} in ${devices}`);
  let pf: string;
  try {
    pf = basename(readlinkSync(join(vfDir, "physfn")));
  } catch {
    throw new CniError(CniCode.InvalidNetworkConfig, `vfioveth: ${vf} is not an SR-IOV VF (no ${join(vfDir, "physfn")})`);
  }
  let driver = "";
  try {
    driver = basename(readlinkSync(join(vfDir, "driver")));
  } catch {
    // Unbound: no driver link.
  }
  const pfDir = join(devices, pf);
  let index: string | undefined;
  try {
    index = readdirSync(pfDir)
      .filter((n) => /^virtfn\d+$/.test(n))
      .find((n) => basename(readlinkSync(join(pfDir, n))) === vf);
  } catch (err) {
    throw new CniError(CniCode.IoFailure, `vfioveth: reading PF ${pf} of ${vf} in ${devices}: ${(err as Error).message}`);
  }
  if (index === undefined) throw new CniError(CniCode.InvalidNetworkConfig, `vfioveth: PF ${pf} has no virtfn link to ${vf}`);
  const nets = existsSync(join(pfDir, "net")) ? readdirSync(join(pfDir, "net")) : [];
  const pfNetdev = nets[0];
  if (pfNetdev === undefined) throw new CniError(CniCode.InvalidNetworkConfig, `vfioveth: PF ${pf} of ${vf} has no netdev (${join(pfDir, "net")})`);
  return { pf, pfNetdev, index: Number(index.slice("virtfn".length)), driver };
}

/** The VF's MAC from `ip -json link show <pf>` output (iproute2's vfinfo_list). */
export function vfMacFromIpJson(json: string, index: number): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    return undefined;
  }
  const link = Array.isArray(parsed) ? (parsed[0] as Record<string, unknown> | undefined) : undefined;
  const list = link?.["vfinfo_list"];
  if (!Array.isArray(list)) return undefined;
  const entry = (list as Record<string, unknown>[]).find((v) => v["vf"] === index) ?? (list[index] as Record<string, unknown> | undefined);
  const mac = entry?.["address"] ?? entry?.["mac"];
  return typeof mac === "string" && mac !== "" ? mac : undefined;
}

async function ip(args: string[], netns?: string): Promise<string> {
  const [file, argv] = netns === undefined ? ["ip", args] : ["nsenter", [`--net=${netns}`, "ip", ...args]];
  return (await execFileWithDeadline(file, argv, { timeoutMs: IP_TIMEOUT_MS })).stdout;
}

function stringKey(o: unknown, key: string): string | undefined {
  if (typeof o !== "object" || o === null) return undefined;
  const v = (o as Record<string, unknown>)[key];
  return typeof v === "string" && v !== "" ? v : undefined;
}

async function runIpam(args: CmdArgs, command: "ADD" | "DEL"): Promise<CniResult | undefined> {
  const ipamType = stringKey(args.config["ipam"], "type");
  if (ipamType === undefined) return undefined;
  const pluginPath = await findPlugin(ipamType, args.path);
  const out = await execPlugin({
    pluginPath,
    stdin: args.stdinData,
    env: args.env,
    command,
    containerId: args.containerId,
    netns: args.netns,
    ifName: args.ifName,
    args: args.args,
    path: args.path,
    timeoutMs: IPAM_TIMEOUT_MS,
  });
  if (command === "DEL") return undefined;
  try {
    return decodeResult(JSON.parse(out.toString("utf8")), args.config.cniVersion);
  } catch (err) {
    // The IPAM plugin did allocate: give it back before reporting its unreadable answer.
    await runIpam(args, "DEL").catch(() => undefined);
    throw new CniError(CniCode.IoFailure, `vfioveth: IPAM ${ipamType} gave an invalid result: ${(err as Error).message}`);
  }
}

function peerName(ifName: string): string {
  const peer = `${ifName}-vdev`;
  if (Buffer.byteLength(peer) > 15) throw new CniError(CniCode.InvalidEnvironment, `vfioveth: the peer's name ${peer} is longer than 15 bytes; choose an interface name of at most 10`);
  return peer;
}

export async function vfioVethAdd(args: CmdArgs): Promise<CniResult> {
  const deviceId = stringKey(args.config, "deviceID");
  if (deviceId === undefined) {
    throw new CniError(CniCode.InvalidNetworkConfig, `vfioveth: no "deviceID": the NetworkAttachmentDefinition must name the VF's resource (k8s.v1.cni.cncf.io/resourceName), so that Multus passes the VF's PCI address`);
  }
  const peer = peerName(args.ifName);
  const sysfsRoot = stringKey(args.config, "sysfsRoot") ?? "/sys";
  const vf = vfInfo(sysfsRoot, deviceId);
  if (vf.driver !== "" && vf.driver !== "vfio-pci") {
    throw new CniError(CniCode.InvalidNetworkConfig, `vfioveth: VF ${deviceId} is bound to ${vf.driver}, not vfio-pci; a kernel-driver VF goes to the pod with the sriov plugin`);
  }
  // The selection's MAC: the `mac` capability, the config, or CNI_ARGS MAC= (Multus's route when no
  // plugin declares the capability).
  const fromArgs = parseCniArgs(args.args).find(([k]) => k === "MAC")?.[1];
  const requested = stringKey(args.config["runtimeConfig"], "mac") ?? stringKey(args.config, "mac") ?? (fromArgs === "" ? undefined : fromArgs);
  let mac = requested;
  if (mac === undefined) {
    const shown = await ip(["-json", "link", "show", "dev", vf.pfNetdev]).catch((err: unknown) => {
      throw new CniError(CniCode.IoFailure, `vfioveth: reading PF ${vf.pfNetdev}'s VF table: ${(err as Error).message}`);
    });
    mac = vfMacFromIpJson(shown, vf.index);
    if (mac === undefined) {
      throw new CniError(CniCode.IoFailure, `vfioveth: PF ${vf.pfNetdev} (${vf.pf}) reports no MAC for VF ${String(vf.index)} (${deviceId}); set one with the selection's "mac"`);
    }
  }
  const ipamResult = await runIpam(args, "ADD");
  let ips: NonNullable<Result100["ips"]> = [];
  try {
    ips = ipamResult === undefined ? [] : ((convertResult(ipamResult, "1.0.0") as Result100).ips ?? []);
    await ip(["link", "add", args.ifName, "type", "veth", "peer", "name", peer], args.netns);
    await ip(["link", "set", args.ifName, "address", mac], args.netns);
    await ip(["link", "set", args.ifName, "alias", deviceId], args.netns);
    for (const x of ips) await ip(["addr", "add", x.address, "dev", args.ifName], args.netns);
    await ip(["link", "set", peer, "up"], args.netns);
    await ip(["link", "set", args.ifName, "up"], args.netns);
  } catch (err) {
    await ip(["link", "del", args.ifName], args.netns).catch(() => undefined);
    await runIpam(args, "DEL").catch(() => undefined);
    throw new CniError(CniCode.IoFailure, `vfioveth: the veth pair ${args.ifName}/${peer} for VF ${deviceId}: ${(err as Error).message}`);
  }
  const result: Result100 = {
    cniVersion: "1.0.0",
    interfaces: [
      { name: args.ifName, mac, sandbox: args.netns, pciID: deviceId },
      { name: peer, sandbox: args.netns },
    ],
    ips: ips.map((x) => ({ ...x, interface: 0 })),
  };
  return convertResult(result, args.config.cniVersion);
}

/** DEL: IPAM DEL and the pair (idempotent; the netns may be gone). */
export async function vfioVethDel(args: CmdArgs): Promise<void> {
  await runIpam(args, "DEL");
  if (args.netns === "" || !existsSync(args.netns)) return;
  await ip(["link", "del", args.ifName], args.netns).catch(() => undefined);
}

export async function vfioVethCheck(args: CmdArgs): Promise<void> {
  await ip(["link", "show", args.ifName], args.netns).catch((err: unknown) => {
    throw new CniError(CniCode.IoFailure, `vfioveth: ${args.ifName} is missing in ${args.netns}: ${(err as Error).message}`);
  });
}
