// multusctl validate: NetworkAttachmentDefinitions (and legacy Networks) checked before any pod uses
// them — the node-independent checks the webhook also makes (src/multus/network-checks.ts), then this
// node's and cluster's (node-checks.ts), and with --canary a real ADD/DEL (canary.ts).
//
//   validate nad NAME [-n NS] [--canary]    one NAD from the API
//   validate nad -f FILE [--canary]         NADs from a YAML/JSON file (several documents, or a List)
//   validate all [-A | -n NS]               every NAD of the namespace (-A: of the cluster)
// Exit code 1 when any finding is fatal (or the canary failed or left something behind).
import { readFile } from "node:fs/promises";
import type { KubeClient } from "../k8s/kube-client.ts";
import { isRecord } from "../cni/is-record.ts";
import { nadPath, podPath } from "../k8s/resources.ts";
import { apiPath } from "../k8s/api-path.ts";
import { inspectNetworkObject, type Finding, type NetworkInspection } from "../multus/network-checks.ts";
import { delegateConfigFromNad, decodeNad } from "../netattach/network-attachment-definition.ts";
import type { MultusConfig } from "../multus/multus-config.ts";
import type { CliContext } from "./cli-context.ts";
import { EXIT_FINDINGS, EXIT_OK, UsageError } from "./cli-error.ts";
import { runCanary, type CanaryReport } from "./canary.ts";
import { checkOverlaps, checkParents, checkPlugins, checkPodCapabilities, checkResource, nodeInterfaces, type PodAnnotations } from "./node-checks.ts";
import { parseVerbArgs, type VerbSpec } from "./verb.ts";

export const spec: VerbSpec = {
  name: "validate",
  summary: "Check NetworkAttachmentDefinitions before a pod uses them",
  usage: ["validate nad NAME [-n NS] [--canary]", "validate nad -f FILE [--canary]", "validate all [-A | -n NS]"],
  options: {
    filename: { type: "string", short: "f", description: "a YAML or JSON file of NADs (several documents allowed; - for stdin)" },
    "all-namespaces": { type: "boolean", short: "A", description: "validate all: every namespace" },
    canary: { type: "boolean", description: "also run a real ADD and DEL in a throw-away network namespace on this node" },
  },
  subcommands: ["nad", "all"],
  completes: "nad",
};

interface NetworkReport {
  kind: string;
  namespace: string;
  name: string;
  findings: Finding[];
  canary?: CanaryReport;
}

export async function run(args: string[], ctx: CliContext): Promise<number> {
  const parsed = parseVerbArgs(spec, args, ctx);
  if (parsed === undefined) return EXIT_OK;
  const [what, name, ...extra] = parsed.positionals;
  const file = parsed.strings["filename"];
  const allNamespaces = parsed.flags["all-namespaces"] === true;
  if (extra.length > 0) throw new UsageError(`validate: unexpected argument "${extra[0] ?? ""}"`);
  let objects: unknown[];
  let client: KubeClient | undefined;
  let namespaces: string[] | "all" = [];
  if (what === "nad") {
    if (allNamespaces) throw new UsageError("validate nad: -A is for validate all");
    if ((name === undefined) === (file === undefined)) throw new UsageError("validate nad: give a NAD name or -f FILE (one of the two)");
    if (file !== undefined) {
      objects = await readObjects(file);
      client = await optionalClient(ctx);
    } else {
      const kube = await ctx.kube();
      client = kube.client;
      objects = [await client.get(nadPath(kube.namespace, name))];
      namespaces = [kube.namespace];
    }
  } else if (what === "all") {
    if (name !== undefined || file !== undefined) throw new UsageError("validate all: takes no name and no -f (use validate nad)");
    if (allNamespaces && ctx.globals.namespace !== undefined) throw new UsageError("validate all: -A and -n exclude each other");
    const kube = await ctx.kube();
    client = kube.client;
    namespaces = allNamespaces ? "all" : [kube.namespace];
    const path = allNamespaces ? apiPath({ group: "k8s.cni.cncf.io", version: "v1", resource: "network-attachment-definitions" }) : nadPath(kube.namespace);
    objects = (await client.list(path, { limit: 500 })).items;
  } else {
    throw new UsageError('validate: give "nad NAME", "nad -f FILE" or "all" (see multusctl validate --help)');
  }

  const { config, source } = await ctx.multusConfig();
  // Off a Multus node (a laptop: no Multus config found, and no --config) the plugin, interface and
  // confDir checks would describe the wrong machine: they are skipped, and said to be.
  const onNode = source !== "defaults";
  if (!onNode) ctx.warn("not on a Multus node: the checks of this node (plugins in binDir, master/parent interfaces, confDir files, --canary) are skipped; run multusctl on a node, or give --config");
  if (!onNode && parsed.flags["canary"] === true) throw new UsageError("validate --canary runs a real ADD and DEL on this node, and this is not a Multus node (no Multus config found; give --config)");
  const inspections = await Promise.all(objects.map((o) => inspectNetworkObject(o, { config })));
  if (onNode) await resolveConfDirNads(objects, inspections, config);
  const interfaces = !onNode
    ? undefined
    : await nodeInterfaces().catch((err: unknown) => {
        ctx.warn(`cannot list this node's interfaces, master/parent interfaces not checked: ${(err as Error).message}`);
        return undefined;
      });
  const pods = client === undefined ? [] : await podsOf(client, namespaces === "all" ? "all" : [...new Set([...namespaces, ...inspections.flatMap((i) => (i.namespace === undefined ? [] : [i.namespace]))])], ctx);
  const allocatable = client === undefined || !inspections.some((i) => i.resourceName !== undefined) ? undefined : await nodeAllocatable(client, ctx.nodeName(), ctx);
  const overlaps = checkOverlaps(inspections);

  // Ctrl-C or SIGTERM during a canary must not leave its namespace, records and leases behind: the
  // canary in flight finishes its ADD (bounded by its budget) and its DEL, no other one starts, and
  // the command then says it was interrupted (kill -9 cannot be caught: diagnose node lists what a
  // killed canary left).
  const canaries = parsed.flags["canary"] === true;
  const interrupted: { signal?: string } = {};
  const onSignal = (signal: string): void => {
    interrupted.signal ??= signal;
    ctx.warn(`${signal}: finishing the canary's DEL before stopping`);
  };
  if (canaries) for (const sig of ["SIGINT", "SIGTERM"] as const) process.on(sig, onSignal);
  const reports: NetworkReport[] = [];
  try {
    for (const n of inspections) {
      const findings = [...n.findings];
      if (!findings.some((f) => f.severity === "fatal")) {
        if (onNode) findings.push(...(await checkPlugins(n, config.binDir)));
        if (interfaces !== undefined) findings.push(...checkParents(n, interfaces));
        findings.push(...(overlaps.get(n) ?? []));
        findings.push(...checkPodCapabilities(n, pods));
        if (client !== undefined) findings.push(...checkResource(n, allocatable, ctx.nodeName()));
      }
      const report: NetworkReport = { kind: n.kind, namespace: n.namespace ?? "", name: n.name ?? "", findings };
      if (canaries) {
        const delegate = file === undefined ? n.delegate : await untrustedDelegate(objects[inspections.indexOf(n)], config, findings);
        if (delegate === undefined || findings.some((f) => f.severity === "fatal")) ctx.warn(`${n.kind} ${report.namespace}/${report.name}: no canary, the network has fatal findings`);
        else if (interrupted.signal === undefined) report.canary = await runCanary(delegate, config);
      }
      reports.push(report);
    }
  } finally {
    if (canaries) for (const sig of ["SIGINT", "SIGTERM"] as const) process.off(sig, onSignal);
  }

  const failed = reports.some((r) => r.findings.some((f) => f.severity === "fatal") || r.canary?.error !== undefined || (r.canary?.leftovers.length ?? 0) > 0);
  await ctx.print({ networks: reports }, () => ({
    headers: ["network", "severity", "field", "code", "message"],
    rows: reports.flatMap((r) => {
      const id = `${r.namespace}/${r.name}`;
      const rows = r.findings.map((f) => [id, f.severity, f.field, f.code, f.message]);
      if (r.canary !== undefined) rows.push([id, r.canary.error === undefined && r.canary.leftovers.length === 0 ? "canary" : "fatal", "(canary)", "MULTUS_CHECK_CANARY", canaryText(r.canary)]);
      return rows.length === 0 ? [[id, "ok", "", "", "no problem found"]] : rows;
    }),
  }));
  if (interrupted.signal !== undefined) {
    ctx.warn(`interrupted by ${interrupted.signal}: the canary in flight was torn down (see its row), the others did not run`);
    return EXIT_FINDINGS;
  }
  return failed ? EXIT_FINDINGS : EXIT_OK;
}

/**
 * A file's object for the canary, admitted as a tenant's whatever namespace the file names: the gate
 * trusts by namespace (trustedNamespaces), and in a file the namespace is whatever its author wrote,
 * so a run as root on this node must not be granted what only the API's namespaces earn (host paths,
 * sockets). A refusal becomes a fatal finding that says so.
 */
async function untrustedDelegate(object: unknown, config: MultusConfig, findings: Finding[]): Promise<NetworkInspection["delegate"]> {
  const untrusted: MultusConfig = { ...config, delegatePolicy: { ...config.delegatePolicy, trustedNamespaces: [] } };
  const inspection = await inspectNetworkObject(object, { config: untrusted });
  const refused = inspection.findings.filter((f) => f.severity === "fatal");
  for (const f of refused) {
    findings.push({ ...f, code: "MULTUS_CHECK_CANARY", message: `no canary: from a file, the network is run as a tenant's (its namespace is only what the file says), and then: ${f.message}; apply it and run validate nad NAME --canary` });
  }
  return refused.length === 0 ? inspection.delegate : undefined;
}

function canaryText(c: CanaryReport): string {
  const ifs = (c.result.interfaces ?? []).map((i, idx) => `${i.name}${i.sandbox === undefined ? "" : "(pod)"}:${idx}`).join(" ");
  const ips = (c.result.ips ?? []).map((ip) => `${ip.address}${ip.gateway === undefined ? "" : ` gw ${ip.gateway}`}`).join(", ");
  const routes = (c.result.routes ?? []).map((r) => `${r.dst}${r.gw === undefined ? "" : ` via ${r.gw}`}`).join(", ");
  const got = `ADD/DEL in netns ${c.netns}: ${c.ifName} got ${ips === "" ? "no IP" : ips}${routes === "" ? "" : `; routes ${routes}`}; interfaces ${ifs === "" ? "none" : ifs}`;
  const error = c.error === undefined ? "" : `; FAILED ${c.error}`;
  return `${got}${error}; ${c.leftovers.length === 0 ? "nothing left behind" : `LEFT BEHIND: ${c.leftovers.join(", ")}`}`;
}

/** A NAD without spec.config runs the confDir file of its name: on this node, check that file now. */
async function resolveConfDirNads(objects: readonly unknown[], inspections: NetworkInspection[], config: MultusConfig): Promise<void> {
  for (const [i, n] of inspections.entries()) {
    if (n.delegate !== undefined || n.kind !== "NetworkAttachmentDefinition" || n.findings.some((f) => f.severity === "fatal")) continue;
    try {
      n.delegate = await delegateConfigFromNad(decodeNad(objects[i]), config.confDir, { defaultCniVersion: config.cniVersion, policy: config.delegatePolicy });
      n.findings = n.findings.filter((f) => f.code !== "MULTUS_CHECK_CONFIG_FILE");
      n.body = { ...n.delegate.list };
      n.bodyField = `(confDir file for ${n.name ?? ""})`;
    } catch (err) {
      n.findings.push({ severity: "fatal", field: "spec.config", code: "MULTUS_ERR_NAD_CONFIG", message: (err as Error).message });
    }
  }
}

/** YAML or JSON, one or several documents, each a NAD, a Network, or a List of them. */
async function readObjects(file: string): Promise<unknown[]> {
  let text: string;
  try {
    text = file === "-" ? await readStdin() : await readFile(file, { encoding: "utf8", signal: AbortSignal.timeout(10_000) });
  } catch (err) {
    throw new UsageError(`validate: cannot read ${file}: ${(err as Error).message}`);
  }
  const yaml = await import("yaml");
  const docs = yaml.parseAllDocuments(text);
  const out: unknown[] = [];
  for (const doc of Array.isArray(docs) ? docs : [docs]) {
    if (doc.errors.length > 0) throw new UsageError(`validate: ${file} is not YAML or JSON: ${doc.errors[0]?.message.split("\n")[0] ?? ""}`);
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) continue;
    if (isRecord(value) && Array.isArray(value["items"])) out.push(...(value["items"] as unknown[]));
    else out.push(value);
  }
  if (out.length === 0) throw new UsageError(`validate: ${file} holds no object`);
  return out;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/** For -f: the API when one is configured (capability and resource checks), else none, quietly. */
async function optionalClient(ctx: CliContext): Promise<KubeClient | undefined> {
  try {
    return (await ctx.kube()).client;
  } catch {
    return undefined;
  }
}

async function podsOf(client: KubeClient, namespaces: readonly string[] | "all", ctx: CliContext): Promise<PodAnnotations[]> {
  const paths = namespaces === "all" ? [apiPath({ version: "v1", resource: "pods" })] : namespaces.map((ns) => podPath(ns));
  const pods: PodAnnotations[] = [];
  for (const path of paths) {
    try {
      for (const item of (await client.list(path, { limit: 500 })).items) {
        const md = isRecord(item) ? item["metadata"] : undefined;
        if (!isRecord(md) || typeof md["name"] !== "string" || typeof md["namespace"] !== "string") continue;
        const annotations = isRecord(md["annotations"]) ? Object.fromEntries(Object.entries(md["annotations"]).filter((e): e is [string, string] => typeof e[1] === "string")) : {};
        pods.push({ namespace: md["namespace"], name: md["name"], annotations });
      }
    } catch (err) {
      ctx.warn(`cannot list pods (${path}), their capability requests are not checked: ${(err as Error).message}`);
    }
  }
  return pods;
}

async function nodeAllocatable(client: KubeClient, node: string, ctx: CliContext): Promise<Record<string, string> | undefined> {
  try {
    const obj = await client.get(apiPath({ version: "v1", resource: "nodes", name: node }));
    const status = isRecord(obj) ? obj["status"] : undefined;
    const allocatable = isRecord(status) ? status["allocatable"] : undefined;
    return isRecord(allocatable) ? Object.fromEntries(Object.entries(allocatable).filter((e): e is [string, string] => typeof e[1] === "string")) : {};
  } catch (err) {
    ctx.warn(`cannot read node ${node} (resourceName checks skipped; give --node): ${(err as Error).message}`);
    return undefined;
  }
}
