// Hot-plug of one network into a running pod (the daemon's POST /delegate, as
// multus-dynamic-networks-controller calls it): the request names the sandbox (CNI_CONTAINERID,
// CNI_NETNS), the new interface (CNI_IFNAME), the pod (CNI_ARGS), and carries the network's delegate
// config (a NAD's spec.config) plus `interfaceAttributes` {ips, mac, cni-args}. ADD appends the
// attachment to the sandbox's journal before its plugin runs, so the pod's final DEL (or a crash)
// still tears it down; DEL removes it; CHECK checks it. Same locks and budget as every other command.
// The controller writes the pod's network-status itself from the result, as with upstream.
//
// The request is input from a socket, validated as the CNI skeleton validates a plugin's environment
// (container ID and interface name syntax, CNI_ARGS pairs) before any of it becomes a journal or lock
// path; its netns must be the sandbox's own (the one the journal recorded at the pod's ADD); its
// attributes must be valid addresses; its network config passes the one gate as a tenant's
// (src/cni/delegate-config.ts: source "hotplug").
import { statSync } from "node:fs";
import { CniCode, CniError } from "../cni/cni-error.ts";
import { admitDelegateConfig, withCniArgs, type DelegateConfig } from "../cni/delegate-config.ts";
import { validateContainerId, validateInterfaceName } from "../cni/plugin-env.ts";
import type { CniResult } from "../cni/types.ts";
import { hardwareAddressBytes, isIpOrCidr } from "../netattach/address-syntax.ts";
import { Budget } from "../util/budget.ts";
import type { Logger } from "../util/logger.ts";
import { AttachmentJournal } from "./attachment-journal.ts";
import { checkInterfaceNames, delegateCniArgs, type Attachment } from "./attachment-plan.ts";
import { Executor, type DelegateRunner } from "./executor.ts";
import type { MultusConfig } from "./multus-config.ts";
import { SandboxLocks } from "./sandbox-locks.ts";

export interface HotplugRequest {
  command: string;
  containerId: string;
  netns: string;
  ifName: string;
  cniArgs: [string, string][];
  /** The network's CNI config (conf or conflist), as JSON text. */
  delegateConfig: Buffer;
  attributes: { ips?: string[]; mac?: string; cniArgs?: Record<string, unknown> } | undefined;
}

export async function hotplug(req: HotplugRequest, config: MultusConfig, runner: DelegateRunner, log: Logger): Promise<CniResult | undefined> {
  if (!["ADD", "DEL", "CHECK"].includes(req.command)) throw new CniError(CniCode.InvalidEnvironment, `hot-plug supports ADD, DEL and CHECK, not ${JSON.stringify(req.command)}`);
  if (req.containerId === "" || req.ifName === "") throw new CniError(CniCode.InvalidEnvironment, "hot-plug needs CNI_CONTAINERID and CNI_IFNAME");
  validateContainerId(req.containerId);
  validateInterfaceName(req.ifName);
  checkAttributes(req.attributes);
  const list = delegateConfigOf(req.delegateConfig, config);
  const budget = new Budget(`hot-plug ${req.command} of ${req.ifName}`, config.operationTimeoutMs, "operationTimeoutSeconds");
  const journal = new AttachmentJournal(config.cniDir);
  const locks = new SandboxLocks(config.cniDir, log);
  const executor = new Executor(runner, journal, log, { rollbackTimeoutMs: config.rollbackTimeoutMs });
  const lock = await locks.forSandbox(req.containerId, req.command, budget);
  try {
    const read = await journal.read(req.containerId);
    if (read === undefined || !("entry" in read)) {
      throw new CniError(
        CniCode.UnknownContainer,
        `container ${req.containerId} has no attachments recorded by Multus${read !== undefined && "corrupt" in read ? ` (its journal is unreadable: ${read.corrupt})` : ""}: hot-plug needs a pod sandbox Multus set up`,
      );
    }
    const entry = read.entry;
    if (req.netns !== "" && req.netns !== entry.plan.netns && !sameNamespace(req.netns, entry.plan.netns)) {
      throw new CniError(
        CniCode.InvalidEnvironment,
        `hot-plug for container ${req.containerId}: CNI_NETNS ${JSON.stringify(req.netns)} is not the sandbox's network namespace (${JSON.stringify(entry.plan.netns)}, recorded at its ADD); send the sandbox's own path, or none`,
      );
    }
    const ctx = { budget, lock };
    switch (req.command) {
      case "ADD": {
        const attachment = attachmentFor(req, list, config);
        // A valid name; one the sandbox already uses is refused by attach().
        checkInterfaceNames([{ ...attachment, index: 0 }]);
        return await executor.attach(entry, attachment, ctx);
      }
      case "DEL":
        await executor.detach(entry, req.ifName, ctx);
        return undefined;
      case "CHECK": {
        const a = entry.plan.attachments.find((x) => x.ifName === req.ifName);
        if (a === undefined) throw new CniError(CniCode.UnknownContainer, `container ${req.containerId} has no interface ${req.ifName} recorded`);
        await runner.check(a.delegate, { containerId: req.containerId, netns: entry.plan.netns, ifName: a.ifName, args: a.cniArgs, capabilityArgs: a.capabilityArgs }, ctx);
        return undefined;
      }
      default:
        throw new CniError(CniCode.InvalidEnvironment, `hot-plug supports ADD, DEL and CHECK, not ${req.command}`);
    }
  } finally {
    lock.release({ forget: false });
  }
}

function attachmentFor(req: HotplugRequest, list: DelegateConfig, config: MultusConfig): Omit<Attachment, "index"> {
  const attrs = req.attributes;
  const capabilityArgs: Record<string, unknown> = {};
  const legacy: [string, string][] = [];
  if (attrs?.ips !== undefined && attrs.ips.length > 0) {
    capabilityArgs["ips"] = attrs.ips;
    legacy.push(["IP", attrs.ips.join(",")]);
  }
  if (attrs?.mac !== undefined) {
    capabilityArgs["mac"] = attrs.mac;
    legacy.push(["MAC", attrs.mac]);
  }
  const delegate = attrs?.cniArgs === undefined ? list : withCniArgs(list, attrs.cniArgs, { policy: config.delegatePolicy });
  const declares = (c: string): boolean => delegate.plugins.some((p) => p.capabilities?.[c] === true);
  const a: Omit<Attachment, "index"> = {
    network: list.name,
    ifName: req.ifName,
    delegate,
    isDefault: false,
    cniArgs: delegateCniArgs([...req.cniArgs, ...legacy]),
    capabilityArgs,
  };
  const expect: NonNullable<Attachment["expect"]> = {};
  if (attrs?.ips !== undefined && attrs.ips.length > 0 && !declares("ips")) expect.ips = attrs.ips;
  if (attrs?.mac !== undefined && !declares("mac")) expect.mac = attrs.mac;
  if (expect.ips !== undefined || expect.mac !== undefined) a.expect = expect;
  return a;
}

/** Two paths of one namespace (a bind mount under /run/netns and /proc/<pid>/ns/net name the same inode). */
function sameNamespace(a: string, b: string): boolean {
  try {
    const [x, y] = [statSync(a), statSync(b)];
    return x.dev === y.dev && x.ino === y.ino;
  } catch {
    return false;
  }
}

/** The request's `ips` are addresses (a prefix allowed) and its `mac` a unicast 6-byte MAC. */
function checkAttributes(attrs: HotplugRequest["attributes"]): void {
  for (const ip of attrs?.ips ?? []) {
    if (!isIpOrCidr(ip)) throw new CniError(CniCode.InvalidNetworkConfig, `the hot-plug request's interfaceAttributes.ips has ${JSON.stringify(ip)}, which is not an IP address (with an optional prefix)`);
  }
  if (attrs?.mac !== undefined) {
    const bytes = hardwareAddressBytes(attrs.mac);
    if (bytes?.length !== 6 || ((bytes[0] ?? 0) & 1) === 1 || bytes.every((b) => b === 0)) {
      throw new CniError(CniCode.InvalidNetworkConfig, `the hot-plug request's interfaceAttributes.mac ${JSON.stringify(attrs.mac)} is not a unicast 6-byte MAC address like "02:00:00:00:00:01"`);
    }
  }
}

function delegateConfigOf(bytes: Buffer, config: MultusConfig): DelegateConfig {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString("utf8"));
  } catch (err) {
    throw new CniError(CniCode.DecodingFailure, `the hot-plug request's network config is not JSON: ${(err as Error).message}`);
  }
  return admitDelegateConfig(json, {
    source: { kind: "hotplug", where: "the hot-plug request's network config" },
    policy: config.delegatePolicy,
    defaultCniVersion: config.cniVersion,
  });
}
