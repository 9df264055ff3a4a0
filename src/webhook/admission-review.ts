// admission.k8s.io/v1 AdmissionReview, the wire format between the kube-apiserver and a validating
// webhook: the request is decoded here once (only the fields the webhook reads), and the response
// is built here, within the API's limits on warnings.
//
// Exported API:
//   ADMISSION_REVIEW_API_VERSION
//   interface AdmissionRequest        the decoded request (uid, kind, operation, object, oldObject, …)
//   decodeAdmissionReview(json): AdmissionRequest      MultusError MULTUS_ERR_WEBHOOK_REQUEST naming the field
//   interface AdmissionVerdict { allowed; message?; warnings }
//   admissionReviewResponse(uid, verdict): object      the AdmissionReview to send back
//   boundWarnings(warnings): string[]                  what the API shows without cutting
import * as v from "valibot";
import { MultusError } from "../util/multus-error.ts";

export const ADMISSION_REVIEW_API_VERSION = "admission.k8s.io/v1";

const GroupVersionKind = v.object({ group: v.string(), version: v.string(), kind: v.string() });

const AdmissionReviewSchema = v.looseObject({
  apiVersion: v.literal(ADMISSION_REVIEW_API_VERSION),
  kind: v.literal("AdmissionReview"),
  request: v.looseObject({
    uid: v.pipe(v.string(), v.nonEmpty()),
    kind: GroupVersionKind,
    operation: v.picklist(["CREATE", "UPDATE", "DELETE", "CONNECT"]),
    namespace: v.optional(v.string()),
    name: v.optional(v.string()),
    // Absent for DELETE (object) and for CREATE (oldObject); JSON null is the same.
    object: v.optional(v.unknown()),
    oldObject: v.optional(v.unknown()),
    dryRun: v.optional(v.boolean()),
  }),
});

export interface AdmissionRequest {
  uid: string;
  kind: { group: string; version: string; kind: string };
  operation: "CREATE" | "UPDATE" | "DELETE" | "CONNECT";
  namespace: string;
  name: string;
  object: unknown;
  oldObject: unknown;
  dryRun: boolean;
}

export function decodeAdmissionReview(json: unknown): AdmissionRequest {
  const parsed = v.safeParse(AdmissionReviewSchema, json);
  if (!parsed.success) {
    const issue = parsed.issues[0];
    throw new MultusError("MULTUS_ERR_WEBHOOK_REQUEST", `not an ${ADMISSION_REVIEW_API_VERSION} AdmissionReview: field "${v.getDotPath(issue) ?? "(top level)"}": ${issue.message}`);
  }
  const r = parsed.output.request;
  return {
    uid: r.uid,
    kind: r.kind,
    operation: r.operation,
    namespace: r.namespace ?? "",
    name: r.name ?? "",
    object: r.object ?? undefined,
    oldObject: r.oldObject ?? undefined,
    dryRun: r.dryRun ?? false,
  };
}

export interface AdmissionVerdict {
  allowed: boolean;
  /** Why it is refused (allowed: false): the kube-apiserver shows it after "admission webhook … denied the request: ". */
  message?: string;
  warnings: readonly string[];
}

/**
 * admission.k8s.io/v1 AdmissionResponse.warnings: "Limit warnings to 120 characters if possible.
 * Warnings over 256 characters and large numbers of warnings may be truncated." The apiserver's
 * recorder (k8s.io/apiserver filters/warning.go) keeps every warning whole while the request's total
 * stays within 4096 characters, and past that cuts each to 256. So: one line each, at most 256
 * characters, and no more than fit in 4096 — the last one then says how many were left out and
 * where to see them all. Authors of findings aim for 120.
 */
export const WARNING_MAX_CHARS = 256;
const WARNINGS_TOTAL_CHARS = 4096;

export function boundWarnings(warnings: readonly string[]): string[] {
  const out: string[] = [];
  let total = 0;
  const unique = [...new Set(warnings.map(oneLine))].filter((w) => w !== "");
  for (const [i, w] of unique.entries()) {
    const left = unique.length - i;
    const more = `... and ${left} more: run multusctl validate to see them all`;
    // Room for the note that would follow, unless this is the last.
    if (total + w.length + (left > 1 ? more.length : 0) > WARNINGS_TOTAL_CHARS) {
      out.push(more);
      break;
    }
    out.push(w);
    total += w.length;
  }
  return out;
}

/** Control characters (a header cannot carry them) become spaces; cut at WARNING_MAX_CHARS. */
function oneLine(text: string): string {
  // eslint-disable-next-line no-control-regex -- exactly the characters an HTTP header cannot hold
  const flat = text.replace(/[\u0000-\u001f\u007f]+/g, " ").trim();
  // Code points, as the apiserver counts (Go runes).
  // eslint-disable-next-line @typescript-eslint/no-misused-spread -- runes are the unit of the limit
  const chars = [...flat];
  return chars.length <= WARNING_MAX_CHARS ? flat : chars.slice(0, WARNING_MAX_CHARS - 3).join("") + "...";
}

/** A denial's message: bounded too (it travels in the API's error to kubectl). */
const MESSAGE_MAX_CHARS = 4096;

export function admissionReviewResponse(uid: string, verdict: AdmissionVerdict): Record<string, unknown> {
  const warnings = boundWarnings(verdict.warnings);
  const response: Record<string, unknown> = { uid, allowed: verdict.allowed };
  if (!verdict.allowed) {
    const message = verdict.message ?? "refused";
    response["status"] = {
      // 422 and Invalid: what the apiserver answers for an object its own validation refuses.
      code: 422,
      reason: "Invalid",
      message: message.length > MESSAGE_MAX_CHARS ? `${message.slice(0, MESSAGE_MAX_CHARS - 3)}...` : message,
    };
  }
  if (warnings.length > 0) response["warnings"] = warnings;
  return { apiVersion: ADMISSION_REVIEW_API_VERSION, kind: "AdmissionReview", response };
}
