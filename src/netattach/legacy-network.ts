// The legacy Network API of Multus's first versions (seeds 002/003), which upstream removed: a
// namespaced custom resource `kubernetes.com/v1` `Network` with a top-level `plugin` (the CNI type)
// and `args` (a string holding a JSON list whose first element is the plugin's config body), selected
// by the pod annotation `networks: '[{"name":"flannel-conf"},{"name":"ptp-conf"}]'`. Opt-in
// (`legacyNetworks` in the Multus config; docs/legacy-networks.md).
//
// Exported API:
//   LEGACY_NETWORK_API_VERSION = "kubernetes.com/v1", LEGACY_NETWORK_KIND = "Network"
//   interface LegacyNetwork { metadata: { name; namespace; uid? }; plugin: string; args?: string }
//   decodeLegacyNetwork(json): LegacyNetwork                  validate an API object
//   legacyNetworkConfig(net): Record<string, unknown>           the CNI config body it stands for
//   delegateConfigFromLegacyNetwork(net, options): DelegateConfig   the body through the one gate
//   parseLegacyNetworksAnnotation(text, podRef): string[]      the names a pod selects, in order
//
// Decisions:
//   - The body is `args`' first element, with `type` set to `plugin` (Multus v1 did the same); a body
//     naming another `type` is an error rather than a silent choice between the two. `name` defaults to
//     the object's name. `args` absent, blank or `[]` is an empty body: `{"type": plugin}`.
//   - A Network is a tenant's object exactly as a NAD of its namespace is: the same delegate policy
//     (source `nad`, so trustedNamespaces apply alike) and the same errors (MULTUS_ERR_NAD_CONFIG).
//   - The annotation is the v1 form only: a JSON list of objects with a `name` (a DNS-1123 label: the
//     Network is looked up in the pod's namespace). Any other key is an error naming it: v1 knew no
//     other, and a key silently dropped would be a network attached differently from what was asked.
import { admitDelegateConfig, defaultDelegatePolicy, type DelegateConfig } from "../cni/delegate-config.ts";
import { isRecord } from "../cni/is-record.ts";
import { LEGACY_NETWORKS_ANNOTATION } from "../k8s/annotations.ts";
import { MultusError } from "../util/multus-error.ts";
import { isDns1123Label } from "./address-syntax.ts";
import { parseJsonText } from "./json-text.ts";
import type { DelegateConfigOptions } from "./network-attachment-definition.ts";

export const LEGACY_NETWORK_API_VERSION = "kubernetes.com/v1";
export const LEGACY_NETWORK_KIND = "Network";

export interface LegacyNetwork {
  metadata: { name: string; namespace: string; uid?: string };
  plugin: string;
  args?: string;
}

const q = (s: unknown): string => JSON.stringify(s);

function who(net: { metadata: { namespace: string; name: string } }): string {
  return `Network ${net.metadata.namespace}/${net.metadata.name}`;
}

/** Validate an API object as a legacy Network; errors name the object and the field. */
export function decodeLegacyNetwork(json: unknown): LegacyNetwork {
  const fail = (what: string, subject = "Network (kubernetes.com/v1)"): MultusError => new MultusError("MULTUS_ERR_NAD_CONFIG", `${subject}: ${what}`);
  if (!isRecord(json)) throw fail("is not a JSON object");
  if (json.apiVersion !== undefined && json.apiVersion !== LEGACY_NETWORK_API_VERSION) {
    throw fail(`apiVersion is ${q(json.apiVersion)}, expected ${q(LEGACY_NETWORK_API_VERSION)}`);
  }
  if (json.kind !== undefined && json.kind !== LEGACY_NETWORK_KIND) throw fail(`kind is ${q(json.kind)}, expected ${q(LEGACY_NETWORK_KIND)}`);
  const md = json.metadata;
  if (!isRecord(md)) throw fail("has no metadata object");
  const { name, namespace, uid } = md;
  if (typeof name !== "string" || name === "") throw fail("metadata.name is missing or not a string");
  if (typeof namespace !== "string" || namespace === "") throw fail("metadata.namespace is missing (Network objects are namespaced)", `Network ${q(name)}`);
  const subject = `Network ${namespace}/${name}`;
  if (!isDns1123Label(name)) throw fail('the name is not a DNS-1123 label (lower-case letters, digits and "-", at most 63 characters), so no pod can select it; rename it', subject);
  const { plugin, args } = json;
  if (typeof plugin !== "string" || plugin.trim() === "") throw fail('"plugin" (the CNI type, e.g. "bridge") is missing or not a string; set it', subject);
  if (args !== undefined && args !== null && typeof args !== "string") {
    throw fail(`"args" must be a string holding a JSON list (e.g. '[{"bridge":"br0"}]'), it is ${Array.isArray(args) ? "a list" : typeof args}; quote it`, subject);
  }
  const out: LegacyNetwork = { metadata: { name, namespace }, plugin: plugin.trim() };
  if (typeof uid === "string") out.metadata.uid = uid;
  if (typeof args === "string") out.args = args;
  return out;
}

/** The CNI config body a Network stands for (see the header); errors name the Network and `args`. */
export function legacyNetworkConfig(net: LegacyNetwork): Record<string, unknown> {
  const fail = (what: string): MultusError => new MultusError("MULTUS_ERR_NAD_CONFIG", `${who(net)}: ${what}`);
  let body: Record<string, unknown> = {};
  const text = net.args?.trim() ?? "";
  if (text !== "") {
    const parsed = parseJsonText(text);
    if (!parsed.ok) throw fail(`"args" is not valid JSON (${parsed.error}); fix args`);
    if (!Array.isArray(parsed.value)) throw fail('"args" must be a JSON list whose first element is the plugin\'s config (e.g. \'[{"bridge":"br0"}]\')');
    const first: unknown = parsed.value[0];
    if (first !== undefined) {
      if (!isRecord(first)) throw fail('"args" first element must be a JSON object (the plugin\'s config)');
      body = first;
    }
  }
  if (body["type"] !== undefined && body["type"] !== net.plugin) {
    throw fail(`"args" names type ${q(body["type"])} but "plugin" is ${q(net.plugin)}; drop the type from args or make them agree`);
  }
  return { ...body, type: net.plugin, name: typeof body["name"] === "string" && body["name"] !== "" ? body["name"] : net.metadata.name };
}

/** The delegate config a Network stands for, through the one gate with a NAD's rules for its namespace. */
export function delegateConfigFromLegacyNetwork(net: LegacyNetwork, options: DelegateConfigOptions = {}): DelegateConfig {
  return admitDelegateConfig(legacyNetworkConfig(net), {
    source: { kind: "nad", namespace: net.metadata.namespace, name: net.metadata.name, legacy: true },
    policy: options.policy ?? defaultDelegatePolicy("kube-system"),
    ...(options.defaultCniVersion === undefined ? {} : { defaultCniVersion: options.defaultCniVersion }),
    fallbackName: net.metadata.name,
  });
}

/** The Network names a pod's `networks` annotation selects, in order; [] for a blank value. */
export function parseLegacyNetworksAnnotation(text: string, podRef: string): string[] {
  const fail = (what: string): MultusError => new MultusError("MULTUS_ERR_BAD_SELECTION", `pod ${podRef}: annotation ${q(LEGACY_NETWORKS_ANNOTATION)}: ${what}`);
  if (text.trim() === "") return [];
  const parsed = parseJsonText(text);
  if (!parsed.ok) throw fail(`is not valid JSON (${parsed.error}); it must be a list like '[{"name":"flannel-conf"},{"name":"ptp-conf"}]'`);
  if (!Array.isArray(parsed.value)) throw fail(`must be a JSON list like '[{"name":"flannel-conf"},{"name":"ptp-conf"}]'`);
  return parsed.value.map((element: unknown, i) => {
    const at = `element ${String(i)}`;
    if (!isRecord(element)) throw fail(`${at}: must be an object like {"name":"ptp-conf"}`);
    const unknown = Object.keys(element).find((k) => k !== "name");
    if (unknown !== undefined) throw fail(`${at}: key ${q(unknown)} is not known (the legacy form knows only "name"; use k8s.v1.cni.cncf.io/networks for more)`);
    const name = element["name"];
    if (typeof name !== "string" || name === "") throw fail(`${at}: "name" is missing or not a string`);
    if (!isDns1123Label(name)) throw fail(`${at} (${q(name)}): "name" must be a DNS-1123 label (the name of a Network in the pod's namespace)`);
    return name;
  });
}
