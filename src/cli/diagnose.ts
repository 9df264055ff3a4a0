// multusctl diagnose: `diagnose pod NAME` compares one pod's desired, recorded, published and actual
// networks (diagnose-pod.ts); `diagnose node` finds what no live sandbox accounts for
// (diagnose-node.ts). Exit 1 when drift is found (after --repair: when some is left), 0 when none.
// --repair runs the DELs the runtime owes through the engine (engine-del.ts) and GC's clean-up,
// then diagnoses again and shows what is left.
import { getLegacyNetwork as readLegacyNetwork, getNetworkAttachmentDefinition, getPod, isStaticPod } from "../k8s/resources.ts";
import { unlessNotFound, unlessObjectNotFound } from "../multus/kube-pod-api.ts";
import { createLogger, type Logger } from "../util/logger.ts";
import { MultusError } from "../util/multus-error.ts";
import type { CliContext } from "./cli-context.ts";
import { EXIT_FINDINGS, EXIT_OK, UsageError } from "./cli-error.ts";
import { diagnoseNode, repairNode, type NodeReport, type PodUidLookup } from "./diagnose-node.ts";
import { diagnosePod, type PodReport } from "./diagnose-pod.ts";
import type { Finding, RepairOutcome } from "./diagnosis.ts";
import { multusConfigJson } from "./multus-config-json.ts";
import { renderTable, type Table } from "./output.ts";
import { parseVerbArgs, type VerbSpec } from "./verb.ts";

export const spec: VerbSpec = {
  name: "diagnose",
  summary: "Compare a pod's or this node's desired, recorded and actual networks; name the fix for each drift",
  usage: ["diagnose pod NAME [-n NS] [--repair]", "diagnose node [--repair [--force-leases]]"],
  options: {
    repair: { type: "boolean", description: "run the DELs the runtime owes (through Multus's engine, with its locks) and GC's clean-up, then diagnose again" },
    "force-leases": { type: "boolean", description: "with --repair: also remove host-local leases no record on this node names (check first that their sandboxes are gone)" },
  },
  subcommands: ["pod", "node"],
  completes: "pod",
};

export async function run(args: string[], ctx: CliContext): Promise<number> {
  const parsed = parseVerbArgs(spec, args, ctx);
  if (parsed === undefined) return EXIT_OK;
  const [what, name, ...extra] = parsed.positionals;
  const repair = parsed.flags["repair"] === true;
  const forceLeases = parsed.flags["force-leases"] === true;
  if (forceLeases && !repair) throw new UsageError("diagnose: --force-leases goes with --repair");
  if (what === "pod") {
    if (name === undefined || extra.length > 0) throw new UsageError("diagnose pod takes one pod name (see multusctl diagnose --help)");
    if (forceLeases) throw new UsageError("diagnose pod: --force-leases is for diagnose node");
    return diagnosePodVerb(ctx, name, repair);
  }
  if (what === "node") {
    if (name !== undefined) throw new UsageError("diagnose node takes no argument: it diagnoses this node");
    return diagnoseNodeVerb(ctx, repair, forceLeases);
  }
  throw new UsageError(`diagnose: say "pod NAME" or "node"${what === undefined ? "" : `, not "${what}"`} (see multusctl diagnose --help)`);
}

/** The engine's own log lines stay off multusctl's output unless the config logs at debug/verbose. */
function quietLogger(ctx: CliContext): Logger {
  return createLogger({ level: "error", stderr: (line) => { ctx.io.stderr(line); }, component: "multusctl" });
}

async function diagnosePodVerb(ctx: CliContext, name: string, repair: boolean): Promise<number> {
  const { config } = await ctx.multusConfig();
  const kube = await ctx.kube();
  const pod = await unlessNotFound(getPod(kube.client, kube.namespace, name));
  if (pod === undefined) throw new MultusError("MULTUS_ERR_POD_NOT_FOUND", `pod ${kube.namespace}/${name} does not exist`);
  const log = quietLogger(ctx);
  const getNad = (ns: string, n: string): Promise<unknown> => unlessNotFound(getNetworkAttachmentDefinition(kube.client, ns, n));
  const getLegacyNetwork = (ns: string, n: string): Promise<unknown> => unlessObjectNotFound(readLegacyNetwork(kube.client, ns, n));
  const report = await diagnosePod({ config, log, pod, getNad, getLegacyNetwork });
  if (!repair || !report.findings.some((f) => f.repair !== undefined)) {
    await printPod(ctx, report);
    return report.findings.length === 0 ? EXIT_OK : EXIT_FINDINGS;
  }
  // Only the DELs of the pod's stale sandboxes: a live sandbox is the runtime's to replace.
  const stale: NodeReport = { cniDir: config.cniDir, sandboxes: [], findings: report.findings.filter((f) => f.repair?.kind === "del") };
  const repairs = await repairNode(stale, { config, log, configBytes: Buffer.from(JSON.stringify(multusConfigJson(config))), forceLeases: false, engineLog: (line) => { ctx.io.stderr(line); } });
  const after = await diagnosePod({ config, log, pod, getNad, getLegacyNetwork });
  await printRepaired(ctx, { found: report, repairs, remaining: after }, () => podTables(after), repairs);
  return after.findings.length === 0 && repairs.every((r) => r.ok) ? EXIT_OK : EXIT_FINDINGS;
}

async function diagnoseNodeVerb(ctx: CliContext, repair: boolean, forceLeases: boolean): Promise<number> {
  const { config } = await ctx.multusConfig();
  const log = quietLogger(ctx);
  const podUid = await podUidLookup(ctx);
  const input = { config, log, ...(podUid === undefined ? {} : { podUid }) };
  const report = await diagnoseNode(input);
  if (!repair) {
    await printNode(ctx, report);
    return report.findings.length === 0 ? EXIT_OK : EXIT_FINDINGS;
  }
  const repairs = await repairNode(report, { ...input, configBytes: Buffer.from(JSON.stringify(multusConfigJson(config))), forceLeases, engineLog: (line) => { ctx.io.stderr(line); } });
  const after = await diagnoseNode(input);
  await printRepaired(ctx, { found: report, repairs, remaining: after }, () => nodeTable(after), repairs);
  return after.findings.length === 0 && repairs.every((r) => r.ok) ? EXIT_OK : EXIT_FINDINGS;
}

/** The API for "does this journal's pod still exist": optional on a node (a warning without it). */
async function podUidLookup(ctx: CliContext): Promise<PodUidLookup | undefined> {
  let kube;
  try {
    kube = await ctx.kube();
  } catch (err) {
    ctx.warn(`no API access (${(err as Error).message}): journals are judged by their network namespaces alone`);
    return undefined;
  }
  const client = kube.client;
  let warned = false;
  return async (namespace, name) => {
    try {
      const pod = await unlessNotFound(getPod(client, namespace, name));
      // A static pod's mirror gets a new UID whenever it is recreated, while the kubelet's sandbox of
      // the static pod lives on: its UID says nothing about the sandbox, so it is never compared.
      return pod === undefined ? undefined : isStaticPod(pod) ? null : pod.metadata.uid;
    } catch (err) {
      if (!warned) ctx.warn(`cannot read pods (${(err as Error).message}): journals are judged by their network namespaces alone`);
      warned = true;
      throw err;
    }
  };
}

function findingsTable(findings: readonly Finding[]): Table {
  return { headers: ["kind", "subject", "detail", "fix"], rows: findings.map((f) => [f.kind, f.subject, f.detail, f.fix]) };
}

function nodeTable(report: NodeReport): Table {
  return findingsTable(report.findings);
}

function podTables(report: PodReport): Table {
  return findingsTable(report.findings);
}

async function printNode(ctx: CliContext, report: NodeReport): Promise<void> {
  if (ctx.globals.output !== "table") {
    await ctx.print(report, () => nodeTable(report));
    return;
  }
  const sandboxes = renderTable({
    headers: ["container", "pod", "netns", "state", "attachments"],
    rows: report.sandboxes.map((s) => [s.containerId, s.pod, s.netns, s.state, s.attachments.join(", ")]),
  });
  ctx.io.stdout(`sandboxes recorded under ${report.cniDir}:\n${report.sandboxes.length === 0 ? "(none)\n" : sandboxes}`);
  ctx.io.stdout(report.findings.length === 0 ? "\nno drift\n" : `\n${renderTable(nodeTable(report))}`);
}

/** Table output: the side-by-side view, then the drift (or "no drift"); json/yaml: the report. */
async function printPod(ctx: CliContext, report: PodReport): Promise<void> {
  if (ctx.globals.output !== "table") {
    await ctx.print(report, () => podTables(report));
    return;
  }
  ctx.io.stdout(podHeader(report));
  ctx.io.stdout(report.findings.length === 0 ? "\nno drift\n" : `\n${renderTable(findingsTable(report.findings))}`);
}

function podHeader(report: PodReport): string {
  const sandbox = report.sandbox === undefined ? "none recorded on this node" : `${report.sandbox.containerId} (netns ${report.sandbox.netns})`;
  const ips = (x: readonly string[] | undefined): string => (x === undefined ? "-" : x.length === 0 ? "(none)" : x.join(","));
  const table = renderTable({
    headers: ["network", "interface", "desired", "recorded", "network-status", "assigned", "actual"],
    rows: report.attachments.map((a) => [a.network, a.interface, a.desired ? "yes" : "no", a.recorded === "" ? "-" : a.recorded, ips(a.published), ips(a.assigned), ips(a.actual)]),
  });
  return `pod ${report.pod} (uid ${report.uid}, node ${report.node === "" ? "?" : report.node})\nsandbox ${sandbox}\n\n${table}`;
}

async function printRepaired(ctx: CliContext, value: unknown, remaining: () => Table, repairs: readonly RepairOutcome[]): Promise<void> {
  if (ctx.globals.output !== "table") {
    await ctx.print(value, remaining);
    return;
  }
  ctx.io.stdout(renderTable({ headers: ["repair", "result"], rows: repairs.map((r) => [r.action, r.ok ? "done" : `failed: ${r.error ?? "?"}`]) }));
  const left = remaining();
  ctx.io.stdout(left.rows.length === 0 ? "\nno drift left\n" : `\nleft after the repair:\n${renderTable(left)}`);
}
