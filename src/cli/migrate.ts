// multusctl migrate: Multus v1's legacy API → NetworkAttachmentDefinitions (docs/legacy-networks.md,
// "Migrating"). Reads the kubernetes.com/v1 Network objects and every pod, Deployment, StatefulSet
// and DaemonSet carrying the legacy `networks` annotation; prints the NADs and the annotation changes
// that give the same attachments (src/cli/legacy-migration.ts says why they are the same), as a
// dry run; `--apply` creates the NADs (never overwriting one) and then patches the annotations.
//
// Workloads are changed through their pod template: the controller rolls the pods out with the new
// annotations. A pod a controller owns is left to its controller; when that controller is not one
// migrate changes (a Job, a bare ReplicaSet, an operator's resource), the pod is reported. A standalone pod's annotations are
// patched in place; its running sandbox keeps its interfaces (and its journal tears them down), the
// new annotations apply from its next sandbox.
import { isRecord } from "../cni/is-record.ts";
import { apiPath } from "../k8s/api-path.ts";
import { LEGACY_NETWORKS_ANNOTATION } from "../k8s/annotations.ts";
import { isAlreadyExists, isNotFound, KubeNotFoundError } from "../k8s/kube-api-error.ts";
import type { KubeClient } from "../k8s/kube-client.ts";
import { nadPath, podPath } from "../k8s/resources.ts";
import { decodeLegacyNetwork } from "../netattach/legacy-network.ts";
import type { CliContext } from "./cli-context.ts";
import { UsageError } from "./cli-error.ts";
import { migratedAnnotations, nadForLegacyNetwork, type NadObject } from "./legacy-migration.ts";
import { parseVerbArgs, type VerbSpec } from "./verb.ts";

export const spec: VerbSpec = {
  name: "migrate",
  summary: "Turn legacy Network objects and networks annotations into NetworkAttachmentDefinitions (dry run unless --apply)",
  usage: ["migrate [-n NS | -A] [--apply]"],
  options: {
    "all-namespaces": { type: "boolean", short: "A", description: "every namespace (default: -n, else the context's namespace)" },
    apply: { type: "boolean", description: "create the NADs (never overwriting one), then patch the annotations" },
  },
};

const WORKLOAD_KINDS = [
  { kind: "Deployment", resource: "deployments" },
  { kind: "StatefulSet", resource: "statefulsets" },
  { kind: "DaemonSet", resource: "daemonsets" },
] as const;

interface NetworkMigration {
  network: string;
  nad: NadObject;
  /** After --apply: created, or unchanged (an identical NAD existed). */
  result?: "created" | "unchanged";
}

interface WorkloadMigration {
  kind: string;
  namespace: string;
  name: string;
  /** Where the annotations are: metadata.annotations (a pod) or spec.template.metadata.annotations. */
  field: string;
  networks: string[];
  before: Record<string, string>;
  patch: Record<string, string | null>;
  result?: "patched";
}

interface Report {
  namespace: string;
  applied: boolean;
  nads: NetworkMigration[];
  workloads: WorkloadMigration[];
  problems: string[];
}

export async function run(args: string[], ctx: CliContext): Promise<number> {
  const parsed = parseVerbArgs(spec, args, ctx);
  if (parsed === undefined) return 0;
  if (parsed.positionals.length > 0) throw new UsageError(`migrate: unexpected argument "${parsed.positionals[0] ?? ""}" (see multusctl migrate --help)`);
  const kube = await ctx.kube();
  const all = parsed.flags["all-namespaces"] === true;
  const namespace = all ? undefined : kube.namespace;
  const report: Report = { namespace: namespace ?? "(all)", applied: parsed.flags["apply"] === true, nads: [], workloads: [], problems: [] };

  for (const raw of await listLegacyNetworks(kube.client, namespace)) {
    try {
      const net = decodeLegacyNetwork(raw);
      report.nads.push({ network: `${net.metadata.namespace}/${net.metadata.name}`, nad: nadForLegacyNetwork(net) });
    } catch (err) {
      report.problems.push(`cannot migrate ${describe(raw)}: ${(err as Error).message}`);
    }
  }
  const known = new Set(report.nads.map((n) => n.network));
  const { workloads, unmanaged } = await listWorkloads(kube.client, namespace);
  report.problems.push(...unmanaged);
  for (const w of workloads) {
    const ref = `${w.kind.toLowerCase()} ${w.namespace}/${w.name}`;
    try {
      const change = migratedAnnotations(w.annotations, w.namespace, ref);
      if (change === undefined) continue;
      const missing = change.networks.filter((n) => !known.has(`${w.namespace}/${n}`));
      if (missing.length > 0) {
        report.problems.push(`${ref} names Network ${missing.map((m) => `${w.namespace}/${m}`).join(", ")}, which ${missing.length === 1 ? "does" : "do"} not exist or cannot be migrated; its annotations are left as they are`);
        continue;
      }
      report.workloads.push({ kind: w.kind, namespace: w.namespace, name: w.name, field: w.field, networks: change.networks, before: pick(w.annotations, Object.keys(change.patch)), patch: change.patch });
    } catch (err) {
      report.problems.push(`${ref}: ${(err as Error).message}`);
    }
  }

  if (report.applied) await apply(kube.client, report);
  await print(ctx, report);
  return report.problems.length > 0 ? 1 : 0;
}

async function apply(client: KubeClient, report: Report): Promise<void> {
  const ready = new Set<string>();
  for (const m of report.nads) {
    const { namespace, name } = m.nad.metadata;
    try {
      await client.create(nadPath(namespace), m.nad);
      m.result = "created";
      ready.add(m.network);
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
      const existing = await client.get(nadPath(namespace, name));
      if (sameConfig(existing, m.nad.spec.config)) {
        m.result = "unchanged";
        ready.add(m.network);
      } else {
        report.problems.push(`NetworkAttachmentDefinition ${m.network} already exists with another config; it is not overwritten, and the workloads using Network ${m.network} are not changed`);
      }
    }
  }
  for (const w of report.workloads) {
    if (!w.networks.every((n) => ready.has(`${w.namespace}/${n}`))) continue;
    const body = w.kind === "Pod" ? { metadata: { annotations: w.patch } } : { spec: { template: { metadata: { annotations: w.patch } } } };
    const path = w.kind === "Pod" ? podPath(w.namespace, w.name) : apiPath({ group: "apps", version: "v1", namespace: w.namespace, resource: resourceOf(w.kind), name: w.name });
    await client.patch(path, body, "merge");
    w.result = "patched";
  }
}

function resourceOf(kind: string): string {
  return WORKLOAD_KINDS.find((k) => k.kind === kind)?.resource ?? "";
}

/** The Network objects, or none when the API server does not serve the legacy CRD at all. */
async function listLegacyNetworks(client: KubeClient, namespace: string | undefined): Promise<unknown[]> {
  try {
    return (await client.list(apiPath({ group: "kubernetes.com", version: "v1", ...(namespace === undefined ? {} : { namespace }), resource: "networks" }))).items;
  } catch (err) {
    if (err instanceof KubeNotFoundError && err.typeNotServed) return [];
    if (isNotFound(err)) return [];
    throw err;
  }
}

interface Workload {
  kind: string;
  namespace: string;
  name: string;
  field: string;
  annotations: Record<string, string>;
}

/**
 * The workloads migrate can change, and the pods it cannot: a pod whose controller is not one of
 * WORKLOAD_KINDS (a Job, a CronJob's Job, a bare ReplicaSet, an operator's resource) keeps its legacy
 * annotation from a template migrate does not patch — it is reported, never skipped in silence.
 */
async function listWorkloads(client: KubeClient, namespace: string | undefined): Promise<{ workloads: Workload[]; unmanaged: string[] }> {
  const workloads: Workload[] = [];
  const unmanaged: string[] = [];
  const ns = namespace === undefined ? {} : { namespace };
  // ReplicaSets a Deployment owns: their pods are migrated through the Deployment's template.
  const deploymentOwned = new Set<string>();
  for (const item of (await client.list(apiPath({ group: "apps", version: "v1", ...ns, resource: "replicasets" }))).items) {
    const md = metadataOf(item);
    if (md !== undefined && controllerOf(md)?.kind === "Deployment") deploymentOwned.add(`${md.namespace}/${md.name}`);
  }
  for (const item of (await client.list(apiPath({ version: "v1", ...ns, resource: "pods" }))).items) {
    const md = metadataOf(item);
    if (md === undefined) continue;
    const owner = controllerOf(md);
    if (owner === undefined) {
      workloads.push({ kind: "Pod", namespace: md.namespace, name: md.name, field: "metadata.annotations", annotations: md.annotations });
      continue;
    }
    const covered = owner.kind === "StatefulSet" || owner.kind === "DaemonSet" || (owner.kind === "ReplicaSet" && deploymentOwned.has(`${md.namespace}/${owner.name}`));
    if (!covered && md.annotations[LEGACY_NETWORKS_ANNOTATION] !== undefined) {
      unmanaged.push(`pod ${md.namespace}/${md.name} carries the legacy networks annotation from its ${owner.kind} ${owner.name}, whose template migrate does not change (it patches Deployments, StatefulSets, DaemonSets and standalone pods): change that template the same way by hand`);
    }
  }
  for (const { kind, resource } of WORKLOAD_KINDS) {
    for (const item of (await client.list(apiPath({ group: "apps", version: "v1", ...ns, resource }))).items) {
      const md = metadataOf(item);
      const template = isRecord(item) && isRecord(item["spec"]) && isRecord(item["spec"]["template"]) ? item["spec"]["template"] : undefined;
      if (md === undefined || template === undefined) continue;
      workloads.push({ kind, namespace: md.namespace, name: md.name, field: "spec.template.metadata.annotations", annotations: stringMap(isRecord(template["metadata"]) ? template["metadata"]["annotations"] : undefined) });
    }
  }
  return { workloads, unmanaged };
}

function metadataOf(item: unknown): { name: string; namespace: string; annotations: Record<string, string>; ownerReferences: unknown } | undefined {
  if (!isRecord(item) || !isRecord(item["metadata"])) return undefined;
  const md = item["metadata"];
  if (typeof md["name"] !== "string" || typeof md["namespace"] !== "string") return undefined;
  return { name: md["name"], namespace: md["namespace"], annotations: stringMap(md["annotations"]), ownerReferences: md["ownerReferences"] };
}

function controllerOf(md: { ownerReferences: unknown }): { kind: string; name: string } | undefined {
  if (!Array.isArray(md.ownerReferences)) return undefined;
  for (const r of md.ownerReferences as unknown[]) {
    if (isRecord(r) && r["controller"] === true && typeof r["kind"] === "string" && typeof r["name"] === "string") return { kind: r["kind"], name: r["name"] };
  }
  return undefined;
}

function stringMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (isRecord(v)) for (const [k, x] of Object.entries(v)) if (typeof x === "string") out[k] = x;
  return out;
}

function pick(annotations: Record<string, string>, keys: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of keys) {
    const v = annotations[k];
    if (v !== undefined) out[k] = v;
  }
  return out;
}

function describe(raw: unknown): string {
  const md = isRecord(raw) && isRecord(raw["metadata"]) ? raw["metadata"] : {};
  const text = (v: unknown): string => (typeof v === "string" ? v : "?");
  return `Network ${text(md["namespace"])}/${text(md["name"])}`;
}

/** An existing NAD is "the same" when its spec.config parses to the same JSON as ours. */
function sameConfig(existing: unknown, config: string): boolean {
  const spec = isRecord(existing) && isRecord(existing["spec"]) ? existing["spec"] : {};
  const theirs = spec["config"];
  if (typeof theirs !== "string") return false;
  try {
    return JSON.stringify(JSON.parse(theirs)) === JSON.stringify(JSON.parse(config));
  } catch {
    return false;
  }
}

async function print(ctx: CliContext, report: Report): Promise<void> {
  if (ctx.globals.output !== "table") {
    await ctx.print(report, () => ({ headers: [], rows: [] }));
    return;
  }
  const yaml = await import("yaml");
  const lines: string[] = [];
  const verb = report.applied ? "applied" : "dry run; --apply to make these changes";
  lines.push(`# multusctl migrate (${verb}), namespace ${report.namespace}`);
  lines.push(`# ${String(report.nads.length)} NetworkAttachmentDefinition(s) for legacy Network objects`);
  for (const m of report.nads) {
    lines.push("---", `# from Network ${m.network}${m.result === undefined ? "" : `: ${m.result}`}`, yaml.stringify(m.nad, { lineWidth: 0 }).trimEnd());
  }
  lines.push(`# ${String(report.workloads.length)} workload(s) with the legacy networks annotation`);
  for (const w of report.workloads) {
    // As comments, so that the whole output stays a YAML stream `kubectl apply -f -` takes (the NADs).
    lines.push(`# --- ${w.kind.toLowerCase()} ${w.namespace}/${w.name} (${w.field})${w.result === undefined ? "" : `: ${w.result}`}`);
    for (const [k, v] of Object.entries(w.patch)) {
      const old = w.before[k];
      if (old !== undefined) lines.push(`# - ${k}: ${JSON.stringify(old)}`);
      if (v !== null) lines.push(`# + ${k}: ${JSON.stringify(v)}`);
    }
  }
  for (const p of report.problems) lines.push(`# problem: ${p}`);
  ctx.io.stdout(`${lines.join("\n")}\n`);
  if (report.problems.length > 0) ctx.warn(`${String(report.problems.length)} problem(s); see the lines starting with "# problem:"`);
}
