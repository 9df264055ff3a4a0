// The webhook's decision for one AdmissionReview: the very checks `multusctl validate` runs
// (src/multus/network-checks.ts: the engine's delegate-config model and policy), fatal findings
// refuse the object with a message naming each field and its fix, the others come back as
// admission warnings (kubectl prints them as "Warning: …").
//
// What is let through unchecked, and why:
//   - DELETE and CONNECT, and objects of any other kind: nothing to check.
//   - legacy kubernetes.com/v1 Network objects while legacyNetworks is off: Multus ignores them (a
//     warning says so), and an unrelated CRD of the same name must not be blocked.
//   - an UPDATE of an object being deleted (finalizers being removed), and an UPDATE that leaves
//     the network's config as it was (labels, annotations): a NAD stored before the webhook was
//     installed stays editable and deletable; its problems come back as warnings.
import { isRecord } from "../cni/is-record.ts";
import type { MultusConfig } from "../multus/multus-config.ts";
import { checkNetworkObject, type Finding } from "../multus/network-checks.ts";
import type { AdmissionRequest, AdmissionVerdict } from "./admission-review.ts";

export const NAD_GROUP = "k8s.cni.cncf.io";
export const NAD_KIND = "NetworkAttachmentDefinition";
export const LEGACY_GROUP = "kubernetes.com";
export const LEGACY_KIND = "Network";

const ALLOW: AdmissionVerdict = { allowed: true, warnings: [] };

export async function admitNetworkObject(request: AdmissionRequest, config: MultusConfig): Promise<AdmissionVerdict> {
  if (request.operation !== "CREATE" && request.operation !== "UPDATE") return ALLOW;
  const { group, kind } = request.kind;
  const isNad = group === NAD_GROUP && kind === NAD_KIND;
  const isLegacy = group === LEGACY_GROUP && kind === LEGACY_KIND;
  if (!isNad && !isLegacy) return ALLOW;
  if (isLegacy && !config.legacyNetworks) {
    return { allowed: true, warnings: [`Multus ignores kubernetes.com/v1 Network objects: legacyNetworks is off in its config (docs/legacy-networks.md)`] };
  }
  const object = request.object;
  if (!isRecord(object)) return ALLOW;
  const findings = await checkNetworkObject(object, { config });
  const fatal = findings.filter((f) => f.severity === "fatal");
  const others = findings.filter((f) => f.severity !== "fatal");
  const what = `${isNad ? NAD_KIND : LEGACY_KIND} ${request.namespace}/${request.name || objectName(object)}`;
  if (fatal.length === 0) return { allowed: true, warnings: others.map(warningText) };
  if (request.operation === "UPDATE" && (beingDeleted(object) || sameNetwork(object, request.oldObject, isNad))) {
    return { allowed: true, warnings: [...fatal.map((f) => `existing problem (Multus refuses pods using it): ${warningText(f)}`), ...others.map(warningText)] };
  }
  return { allowed: false, message: denialMessage(what, fatal), warnings: others.map(warningText) };
}

/** One line per finding: `field: message [code]` (the field once: the engine's messages often name it already). */
export function warningText(f: Finding): string {
  return `${f.message.includes(f.field) ? f.message : `${f.field}: ${f.message}`} [${f.code}]`;
}

/**
 * The findings joined by "; ", after the object's name unless the messages name it (the engine's
 * do); the apiserver puts "admission webhook … denied the request: " before it.
 */
export function denialMessage(what: string, fatal: readonly Finding[]): string {
  const text = fatal.map(warningText).join("; ");
  const name = what.slice(what.indexOf(" ") + 1);
  return fatal.every((f) => f.message.includes(name)) ? text : `${what}: ${text}`;
}

function objectName(object: Record<string, unknown>): string {
  const meta = object["metadata"];
  if (!isRecord(meta)) return "";
  const name = meta["name"] ?? meta["generateName"];
  return typeof name === "string" ? name : "";
}

function beingDeleted(object: Record<string, unknown>): boolean {
  const meta = object["metadata"];
  return isRecord(meta) && typeof meta["deletionTimestamp"] === "string";
}

/** The network part of the object: a NAD's spec, a Network's plugin and args. */
function networkPart(object: unknown, isNad: boolean): string {
  if (!isRecord(object)) return "";
  return JSON.stringify(isNad ? object["spec"] ?? null : [object["plugin"] ?? null, object["args"] ?? null]);
}

function sameNetwork(object: Record<string, unknown>, oldObject: unknown, isNad: boolean): boolean {
  return oldObject !== undefined && networkPart(object, isNad) === networkPart(oldObject, isNad);
}
