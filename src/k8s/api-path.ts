// Kubernetes REST paths: build them from their parts (names URL-encoded) and parse them back, so
// that an error can name the object ("Pod default/web-0") and the RBAC verb ("patch pods/status")
// instead of echoing a URL.
//
// Exported API:
//   apiPath(parts): string                 — /api/v1/... or /apis/<group>/<version>/...
//   parseApiPath(path): ApiTarget          — the inverse, for messages; never throws
//   rbacVerb(method, target, watch): string — get/list/watch/create/update/patch/delete/deletecollection
//   describeTarget(target): string         — "Pod default/web-0", "pods/status of Pod default/web-0", "Pods in namespace default"
//   describeResource(target): string       — RBAC resource as `kubectl auth can-i` spells it: "pods/status", "network-attachment-definitions.k8s.cni.cncf.io"

/** The parts of a REST path. `group` is "" (or absent) for the core API. */
export interface ApiTarget {
  group: string;
  version: string;
  namespace?: string;
  resource: string;
  name?: string;
  subresource?: string;
}

export interface ApiPathParts {
  group?: string;
  version: string;
  namespace?: string;
  resource: string;
  name?: string;
  subresource?: string;
}

/** `/api/v1/namespaces/<ns>/pods/<name>/status` and friends; every variable part is URL-encoded. */
export function apiPath(parts: ApiPathParts): string {
  const group = parts.group ?? "";
  const segments = group === "" ? ["api", parts.version] : ["apis", group, parts.version];
  if (parts.namespace !== undefined) segments.push("namespaces", encodeURIComponent(parts.namespace));
  segments.push(parts.resource);
  if (parts.name !== undefined) segments.push(encodeURIComponent(parts.name));
  if (parts.subresource !== undefined) {
    if (parts.name === undefined) throw new TypeError(`apiPath: subresource ${parts.subresource} needs a name`);
    segments.push(parts.subresource);
  }
  return "/" + segments.join("/");
}

/** Subresources of the Namespace object itself (`/api/v1/namespaces/<name>/status`). */
const NAMESPACE_SUBRESOURCES = new Set(["status", "finalize"]);

/** Parses a path made by apiPath (query string ignored). Unknown shapes give resource = the path. */
export function parseApiPath(path: string): ApiTarget {
  const bare = path.split("?")[0] ?? "";
  const segs = bare.split("/").filter((s) => s !== "").map(safeDecode);
  let rest: string[];
  let group: string;
  let version: string;
  if (segs[0] === "api" && segs[1] !== undefined) {
    group = "";
    version = segs[1];
    rest = segs.slice(2);
  } else if (segs[0] === "apis" && segs[1] !== undefined && segs[2] !== undefined) {
    group = segs[1];
    version = segs[2];
    rest = segs.slice(3);
  } else {
    return { group: "", version: "", resource: bare };
  }
  const target: ApiTarget = { group, version, resource: rest[0] ?? "" };
  // namespaces/<ns>/<resource>/... unless the path addresses the Namespace object itself.
  if (rest[0] === "namespaces" && rest[1] !== undefined && rest[2] !== undefined && !(rest.length === 3 && NAMESPACE_SUBRESOURCES.has(rest[2]))) {
    target.namespace = rest[1];
    rest = rest.slice(2);
    target.resource = rest[0] ?? "";
  }
  if (rest[1] !== undefined) target.name = rest[1];
  if (rest[2] !== undefined) target.subresource = rest.slice(2).join("/");
  return target;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** The RBAC verb the apiserver authorizes for this request (what `kubectl auth can-i` takes). */
export function rbacVerb(method: string, target: ApiTarget, watch = false): string {
  switch (method.toUpperCase()) {
    case "GET":
    case "HEAD":
      if (watch) return "watch";
      return target.name === undefined ? "list" : "get";
    case "POST":
      return "create";
    case "PUT":
      return "update";
    case "PATCH":
      return "patch";
    case "DELETE":
      return target.name === undefined ? "deletecollection" : "delete";
    default:
      return method.toLowerCase();
  }
}

/** Kind names for the resources Multus touches; anything else is named by its resource. */
const KINDS: Readonly<Record<string, string>> = {
  pods: "Pod",
  events: "Event",
  namespaces: "Namespace",
  nodes: "Node",
  "network-attachment-definitions": "NetworkAttachmentDefinition",
  resourceclaims: "ResourceClaim",
  resourceslices: "ResourceSlice",
  serviceaccounts: "ServiceAccount",
};

/** "Pod default/web-0", "status of Pod default/web-0", "Pods in namespace default", "Nodes". */
export function describeTarget(target: ApiTarget): string {
  const kind = KINDS[target.resource] ?? target.resource;
  if (target.name === undefined) {
    const plural = KINDS[target.resource] === undefined ? kind : `${kind}s`;
    return target.namespace === undefined ? plural : `${plural} in namespace ${target.namespace}`;
  }
  const object = target.namespace === undefined ? `${kind} ${target.name}` : `${kind} ${target.namespace}/${target.name}`;
  return target.subresource === undefined ? object : `${target.subresource} of ${object}`;
}

/** The resource as RBAC names it: `pods/status`, `network-attachment-definitions.k8s.cni.cncf.io`. */
export function describeResource(target: ApiTarget): string {
  const resource = target.group === "" ? target.resource : `${target.resource}.${target.group}`;
  return target.subresource === undefined ? resource : `${resource}/${target.subresource}`;
}
