// Hot-plug of one network into a running pod (the daemon's POST /delegate, as
// multus-dynamic-networks-controller calls it): the request names the sandbox (CNI_CONTAINERID,
// CNI_NETNS), the new interface (CNI_IFNAME), the pod (CNI_ARGS), and carries the network's delegate
// config (a NAD's spec.config) plus `interfaceAttributes` {ips, mac, cni-args}. ADD appends the
// attachment to the sandbox's journal before its plugin runs, so the pod's final DEL (or a crash)
// still tears it down; DEL removes it; CHECK checks it. Same locks and budget as every other command.
// The controller writes the pod's network-status itself from the result, as with upstream.
import { CniCode, CniError } from "../cni/cni-error.ts";
import { isRecord } from "../cni/is-record.ts";
import type { CniResult, NetConf, NetConfList } from "../cni/types.ts";
import { Budget } from "../util/budget.ts";
import type { Logger } from "../util/logger.ts";
import { MultusError } from "../util/multus-error.ts";
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
  if (req.containerId === "" || req.ifName === "") throw new CniError(CniCode.InvalidEnvironment, "hot-plug needs CNI_CONTAINERID and CNI_IFNAME");
  const list = delegateList(req.delegateConfig);
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
    const ctx = { budget, lock };
    switch (req.command) {
      case "ADD": {
        const attachment = attachmentFor(req, list);
        // A valid name; one the sandbox already uses is refused by attach().
        checkInterfaceNames([{ ...attachment, index: 0 }]);
        const netns = req.netns !== "" ? req.netns : entry.plan.netns;
        return await executor.attach({ ...entry, plan: { ...entry.plan, netns } }, attachment, ctx);
      }
      case "DEL":
        // The request's netns for the plugin; the journal keeps the one it has when the request has none.
        await executor.detach({ ...entry, plan: { ...entry.plan, netns: req.netns !== "" ? req.netns : entry.plan.netns } }, req.ifName, ctx);
        return undefined;
      case "CHECK": {
        const a = entry.plan.attachments.find((x) => x.ifName === req.ifName);
        if (a === undefined) throw new CniError(CniCode.UnknownContainer, `container ${req.containerId} has no interface ${req.ifName} recorded`);
        await runner.check(a.delegate, { containerId: req.containerId, netns: req.netns, ifName: a.ifName, args: a.cniArgs, capabilityArgs: a.capabilityArgs }, ctx);
        return undefined;
      }
      default:
        throw new CniError(CniCode.InvalidEnvironment, `hot-plug supports ADD, DEL and CHECK, not ${req.command}`);
    }
  } finally {
    lock.release({ forget: false });
  }
}

function attachmentFor(req: HotplugRequest, list: NetConfList): Omit<Attachment, "index"> {
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
  const delegate = attrs?.cniArgs === undefined ? list : withCniArgs(list, attrs.cniArgs);
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

function delegateList(bytes: Buffer): NetConfList {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString("utf8"));
  } catch (err) {
    throw new CniError(CniCode.DecodingFailure, `the hot-plug request's network config is not JSON: ${(err as Error).message}`);
  }
  if (!isRecord(json)) throw new CniError(CniCode.DecodingFailure, "the hot-plug request's network config must be a JSON object");
  const name = typeof json["name"] === "string" ? json["name"] : "";
  const cniVersion = typeof json["cniVersion"] === "string" ? json["cniVersion"] : "1.0.0";
  if (name === "") throw new MultusError("MULTUS_ERR_CONFIG", 'the hot-plug request\'s network config has no "name"');
  if (Array.isArray(json["plugins"])) {
    const plugins = json["plugins"].filter((p): p is NetConf => isRecord(p) && typeof p["type"] === "string");
    if (plugins.length === 0 || plugins.length !== json["plugins"].length) throw new MultusError("MULTUS_ERR_CONFIG", `network "${name}": every plugin of the list needs a "type"`);
    return { ...(json as Partial<NetConfList>), cniVersion, name, plugins };
  }
  if (typeof json["type"] !== "string") throw new MultusError("MULTUS_ERR_CONFIG", `network "${name}": the config needs a "type" or "plugins"`);
  return { cniVersion, name, plugins: [json as NetConf] };
}

function withCniArgs(list: NetConfList, cniArgs: Record<string, unknown>): NetConfList {
  return {
    ...list,
    plugins: list.plugins.map((p) => {
      const raw: unknown = p.args;
      const args = isRecord(raw) ? raw : {};
      const cni = isRecord(args["cni"]) ? args["cni"] : {};
      return { ...p, args: { ...args, cni: { ...cni, ...cniArgs } } };
    }),
  };
}
