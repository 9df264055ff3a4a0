// The DRA objects (resource.k8s.io/v1) Multus reads to find which devices a pod's claims got: the
// ResourceClaim (its allocation results) and the ResourceSlices of the pod's node (the devices'
// attributes). Validated down to those fields; everything else is dropped.
import * as v from "valibot";
import { apiPath } from "./api-path.ts";
import type { KubeClient, RequestOptions } from "./kube-client.ts";

const GROUP = "resource.k8s.io";
const VERSION = "v1";

const claimSchema = v.object({
  metadata: v.object({ name: v.string(), namespace: v.string(), uid: v.string() }),
  status: v.optional(
    v.object({
      allocation: v.optional(
        v.object({
          devices: v.optional(
            v.object({
              results: v.optional(v.array(v.object({ request: v.string(), driver: v.string(), pool: v.string(), device: v.string() })), []),
            }),
            {},
          ),
        }),
      ),
      reservedFor: v.optional(v.array(v.object({ resource: v.string(), name: v.string(), uid: v.string() })), []),
    }),
    {},
  ),
});

export type ResourceClaim = v.InferOutput<typeof claimSchema>;

const attributeSchema = v.object({
  string: v.optional(v.string()),
  int: v.optional(v.number()),
  bool: v.optional(v.boolean()),
  version: v.optional(v.string()),
});

const sliceSchema = v.object({
  metadata: v.object({ name: v.string() }),
  spec: v.object({
    driver: v.string(),
    nodeName: v.optional(v.string()),
    pool: v.object({ name: v.string(), generation: v.optional(v.number(), 0) }),
    devices: v.optional(v.array(v.object({ name: v.string(), attributes: v.optional(v.record(v.string(), attributeSchema), {}) })), []),
  }),
});

export type ResourceSlice = v.InferOutput<typeof sliceSchema>;

function decoder<S extends v.GenericSchema>(schema: S, kind: string): (value: unknown) => v.InferOutput<S> {
  return (value) => {
    const result = v.safeParse(schema, value);
    if (result.success) return result.output;
    const issue = result.issues[0];
    throw new TypeError(`not a valid ${kind}: ${v.getDotPath(issue) ?? "(root)"}: ${issue.message}`);
  };
}

export function getResourceClaim(client: KubeClient, namespace: string, name: string, opts: RequestOptions = {}): Promise<ResourceClaim> {
  return client.get<ResourceClaim>(apiPath({ group: GROUP, version: VERSION, namespace, resource: "resourceclaims", name }), { ...opts, decode: decoder(claimSchema, "ResourceClaim") });
}

/** The slices one driver published for one node (the field selectors a node's own identity may use). */
export async function listResourceSlices(client: KubeClient, nodeName: string, driver: string, opts: RequestOptions = {}): Promise<ResourceSlice[]> {
  const list = await client.list(apiPath({ group: GROUP, version: VERSION, resource: "resourceslices" }), {
    ...opts,
    fieldSelector: `spec.nodeName=${nodeName},spec.driver=${driver}`,
    decode: decoder(sliceSchema, "ResourceSlice"),
  });
  return list.items;
}
