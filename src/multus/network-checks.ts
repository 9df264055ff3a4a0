// The node-independent checks of a network object — what `multusctl validate` reports and the
// admission webhook enforces — made with the engine's own code, so that what they accept is what a
// pod can use: decodeNad / decodeLegacyNetwork, then the one delegate gate (delegateConfigFromNad /
// delegateConfigFromLegacyNetwork → admitDelegateConfig) with the Multus config's delegatePolicy, then
// the per-type schemas of the plugins this Multus knows (plugin-schemas.ts). No file, network or API
// access: the webhook runs this in its own pod.
//
// Exported API:
//   type Severity = "fatal" | "warning"
//   interface Finding { severity: Severity; field: string; code: string; message: string }
//   interface NetworkCheckContext { config: MultusConfig }
//   checkNetworkObject(obj: unknown, ctx: NetworkCheckContext): Promise<Finding[]>
//       obj: a NetworkAttachmentDefinition (k8s.cni.cncf.io/v1), or a legacy Network (kubernetes.com/v1,
//       chosen by apiVersion/kind). `field` is a path in the object: "spec.config",
//       "spec.config.plugins[0].type", "metadata.name", "args[0].master" (legacy).
//   inspectNetworkObject(obj, ctx): Promise<NetworkInspection>
//       the same findings, and what the checks parsed (the delegate config, the raw config body), for
//       the node-local checks of multusctl (binary present, master interface, IPAM overlaps, …).
//
// Finding codes: fatal ones are the engine's error codes (MULTUS_ERR_NAD_CONFIG, MULTUS_ERR_DELEGATE_REFUSED);
// the schema's are MULTUS_CHECK_FIELD_TYPE (fatal: the plugin refuses the config at ADD),
// MULTUS_CHECK_UNKNOWN_FIELD and MULTUS_CHECK_CONFIG_FILE (warnings); docs/multusctl.md lists them.
import * as v from "valibot";
import { DelegateConfigError, type DelegateConfig } from "../cni/delegate-config.ts";
import { isRecord } from "../cni/is-record.ts";
import { parseJsonText } from "../netattach/json-text.ts";
import { decodeLegacyNetwork, delegateConfigFromLegacyNetwork, LEGACY_NETWORK_API_VERSION, LEGACY_NETWORK_KIND, legacyNetworkConfig } from "../netattach/legacy-network.ts";
import { decodeNad, delegateConfigFromNad, resourceNameOf } from "../netattach/network-attachment-definition.ts";
import { MultusError } from "../util/multus-error.ts";
import type { MultusConfig } from "./multus-config.ts";
import { COMMON_KEYS, IPAM_COMMON_KEYS, IPAM_SCHEMAS, PLUGIN_SCHEMAS, type PluginSchema } from "./plugin-schemas.ts";

export type Severity = "fatal" | "warning";

export interface Finding {
  severity: Severity;
  /** Where in the object: "spec.config.plugins[0].type", "metadata.name", … */
  field: string;
  /** A stable code: the engine's MULTUS_ERR_* or a check's MULTUS_CHECK_*. */
  code: string;
  message: string;
}

export interface NetworkCheckContext {
  config: MultusConfig;
}

export interface NetworkInspection {
  kind: "NetworkAttachmentDefinition" | "Network";
  namespace?: string;
  name?: string;
  /** The admitted delegate config, when the object has one in its own text and it passed the gate. */
  delegate?: DelegateConfig;
  /** The config body as written (spec.config parsed, or a Network's body). */
  body?: Record<string, unknown>;
  /** The prefix of `field` for paths inside the body: "spec.config" or "args[0]". */
  bodyField: string;
  /** The NAD's resourceName annotation. */
  resourceName?: string;
  findings: Finding[];
}

export async function checkNetworkObject(obj: unknown, ctx: NetworkCheckContext): Promise<Finding[]> {
  return (await inspectNetworkObject(obj, ctx)).findings;
}

export async function inspectNetworkObject(obj: unknown, ctx: NetworkCheckContext): Promise<NetworkInspection> {
  const legacy = isRecord(obj) && (obj["apiVersion"] === LEGACY_NETWORK_API_VERSION || (obj["kind"] === LEGACY_NETWORK_KIND && obj["apiVersion"] === undefined));
  return legacy ? inspectLegacy(obj, ctx) : inspectNad(obj, ctx);
}

const OBJECT_FIELDS = ["apiVersion", "kind", "metadata.namespace", "metadata.name", "metadata.annotations", "metadata.uid", "spec.config", "spec"];

/** The object-level field an error of decodeNad/decodeLegacyNetwork is about (its message names it). */
function objectField(message: string, fallback: string): string {
  return OBJECT_FIELDS.find((f) => message.includes(f)) ?? (/"plugin"/.test(message) ? "plugin" : /"args"/.test(message) ? "args" : /\bname\b/.test(message) ? "metadata.name" : fallback);
}

function fatal(field: string, err: unknown): Finding {
  const code = err instanceof MultusError || err instanceof DelegateConfigError ? err.errorCode : "MULTUS_ERR_NAD_CONFIG";
  return { severity: "fatal", field, code, message: err instanceof Error ? err.message : String(err) };
}

async function inspectNad(obj: unknown, ctx: NetworkCheckContext): Promise<NetworkInspection> {
  const out: NetworkInspection = { kind: "NetworkAttachmentDefinition", bodyField: "spec.config", findings: [] };
  let nad;
  try {
    nad = decodeNad(obj);
  } catch (err) {
    out.findings.push(fatal(objectField((err as Error).message, "(object)"), err));
    return out;
  }
  out.namespace = nad.metadata.namespace;
  out.name = nad.metadata.name;
  const resourceName = resourceNameOf(nad);
  if (resourceName !== undefined) out.resourceName = resourceName;
  const text = nad.spec?.config ?? "";
  if (text.trim() === "") {
    out.findings.push({
      severity: "warning",
      field: "spec.config",
      code: "MULTUS_CHECK_CONFIG_FILE",
      message: `NetworkAttachmentDefinition ${nad.metadata.namespace}/${nad.metadata.name}: spec.config is empty, so each node runs the config file named "${nad.metadata.name}" in its confDir (${ctx.config.confDir}); only a check on the node (multusctl validate there) sees it`,
    });
    return out;
  }
  const parsed = parseJsonText(text);
  if (parsed.ok && isRecord(parsed.value)) out.body = parsed.value;
  try {
    // spec.config is not blank: no file is read.
    out.delegate = await delegateConfigFromNad(nad, ctx.config.confDir, { defaultCniVersion: ctx.config.cniVersion, policy: ctx.config.delegatePolicy });
  } catch (err) {
    out.findings.push(fatal(gateField(err, out), err));
    return out;
  }
  if (out.body !== undefined) out.findings.push(...schemaFindings(`NetworkAttachmentDefinition ${nad.metadata.namespace}/${nad.metadata.name}`, out.body, out.bodyField));
  return out;
}

function inspectLegacy(obj: unknown, ctx: NetworkCheckContext): NetworkInspection {
  const out: NetworkInspection = { kind: "Network", bodyField: "args[0]", findings: [] };
  try {
    const net = decodeLegacyNetwork(obj);
    out.namespace = net.metadata.namespace;
    out.name = net.metadata.name;
    out.body = legacyNetworkConfig(net);
    out.delegate = delegateConfigFromLegacyNetwork(net, { defaultCniVersion: ctx.config.cniVersion, policy: ctx.config.delegatePolicy });
  } catch (err) {
    const field = out.body === undefined ? objectField((err as Error).message, "(object)") : gateField(err, out);
    out.findings.push(fatal(field, err));
    return out;
  }
  out.findings.push(...schemaFindings(`Network ${out.namespace ?? ""}/${out.name ?? ""}`, out.body, out.bodyField, new Set(["type"])));
  return out;
}

/**
 * The field a gate error is about: the gate names the path in the normalised list
 * ("plugins[0].ipam.type is …"); for a single-plugin config as written that path has no "plugins[0]".
 */
function gateField(err: unknown, out: NetworkInspection): string {
  const message = err instanceof Error ? err.message : "";
  const at = / (plugins\[\d+\][\w.[\]-]*) (?:is|has)\b/.exec(message)?.[1];
  if (at === undefined) return out.bodyField;
  const single = out.body !== undefined && !Array.isArray(out.body["plugins"]);
  const inBody = single ? at.replace(/^plugins\[0\]\.?/, "") : at;
  return inBody === "" ? out.bodyField : `${out.bodyField}.${inBody}`;
}

/** Per-plugin (and per-IPAM) key types and unknown keys, for the plugins this Multus knows. */
function schemaFindings(who: string, body: Record<string, unknown>, prefix: string, implicit: ReadonlySet<string> = new Set()): Finding[] {
  const plugins = Array.isArray(body["plugins"]) ? body["plugins"].map((p: unknown, i) => ({ p, at: `${prefix}.plugins[${String(i)}]` })) : [{ p: body as unknown, at: prefix }];
  const findings: Finding[] = [];
  for (const { p, at } of plugins) {
    if (!isRecord(p) || typeof p["type"] !== "string") continue;
    const schema = PLUGIN_SCHEMAS[p["type"]];
    if (schema !== undefined) findings.push(...checkFields(who, p, at, p["type"], schema, COMMON_KEYS, implicit));
    if (p["capabilities"] !== undefined && !v.is(v.record(v.string(), v.boolean()), p["capabilities"])) {
      findings.push({ severity: "fatal", field: `${at}.capabilities`, code: "MULTUS_CHECK_FIELD_TYPE", message: `${who}: ${at}.capabilities must map capability names to true or false` });
    }
    const ipam = p["ipam"];
    if (isRecord(ipam) && typeof ipam["type"] === "string") {
      const ipamSchema = IPAM_SCHEMAS[ipam["type"]];
      if (ipamSchema !== undefined) findings.push(...checkFields(who, ipam, `${at}.ipam`, `${ipam["type"]} IPAM`, ipamSchema, IPAM_COMMON_KEYS, new Set()));
    }
  }
  return findings;
}

/**
 * Go's decoder matches keys case-insensitively, so `Master` is read as `master`: a key is known when
 * it folds to a known one, and its type is checked under that spelling.
 */
function checkFields(who: string, obj: Record<string, unknown>, at: string, what: string, schema: PluginSchema, common: ReadonlySet<string>, implicit: ReadonlySet<string>): Finding[] {
  const known = new Map<string, string>();
  for (const k of [...Object.keys(schema.fields), ...common]) known.set(k.toLowerCase(), k);
  const findings: Finding[] = [];
  for (const [key, value] of Object.entries(obj)) {
    if (implicit.has(key)) continue;
    const canonical = known.get(key.toLowerCase());
    if (canonical === undefined) {
      findings.push({ severity: "warning", field: `${at}.${key}`, code: "MULTUS_CHECK_UNKNOWN_FIELD", message: `${who}: ${at}.${key}: ${what} has no key ${JSON.stringify(key)} and ignores it (a typo?)` });
      continue;
    }
    const fieldSchema = schema.fields[canonical];
    if (fieldSchema === undefined || value === null) continue;
    const result = v.safeParse(fieldSchema, value);
    if (!result.success) {
      const issue = result.issues[0];
      const inner = v.getDotPath(issue);
      findings.push({
        severity: "fatal",
        field: `${at}.${key}${inner === null ? "" : `.${inner}`}`,
        code: "MULTUS_CHECK_FIELD_TYPE",
        message: `${who}: ${at}.${key}${inner === null ? "" : `.${inner}`}: ${what} reads ${JSON.stringify(canonical)} as ${describeExpected(issue.expected)}, got ${JSON.stringify(value)}; ${what} would refuse this config at ADD`,
      });
    }
  }
  return findings;
}

function describeExpected(expected: string | null): string {
  return expected === null ? "another value" : expected;
}
