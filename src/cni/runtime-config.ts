// Capability arguments → a plugin's `runtimeConfig` (CNI-R-04), with the spelling fixes real runtimes
// need. Spec: SPEC.md "Deriving runtimeConfig" and CONVENTIONS.md "Well-known Capabilities".
//
// libcni passes a capability only when the plugin's `capabilities[name]` is true AND the runtime
// supplied `name`; the collected map REPLACES any `runtimeConfig` of the configuration, and nothing is
// injected when it is empty. libcni matches names exactly and hands values through unchanged. We also
// accept what containerd actually sends (machine-notes.md): Go struct field names inside the values
// (`HostPort`, `ContainerPort`, `Servers`, `IngressRate`…, because go-cni's structs have no JSON tags)
// and, defensively, capability names in another case. Names are matched case-insensitively; plugins
// get the CONVENTIONS.md spelling for well-known capabilities (the plugin's own spelling otherwise)
// and the CONVENTIONS.md key spelling inside well-known values. Go plugins decode JSON keys
// case-insensitively, so this changes nothing for them; it matters for everyone else (our own TS
// plugins, Python/Rust plugins, plugins that forward runtimeConfig verbatim).
//
// Exported API:
//   WELL_KNOWN_CAPABILITIES: readonly string[]       canonical capability names we know the shape of
//   canonicalCapabilityName(name: string): string    well-known name in spec spelling, else `name`
//   normalizeCapabilityValue(name: string, value: unknown): unknown
//                                                    re-cases the keys of a well-known value (Go → spec);
//                                                    unknown capabilities and map-valued ones such as
//                                                    io.kubernetes.cri.pod-annotations are returned as is
//   normalizeCapabilityArgs(args: Readonly<Record<string, unknown>>): Record<string, unknown>
//                                                    both of the above over a whole map (usable by Multus
//                                                    for its own incoming runtimeConfig)
//   buildRuntimeConfig(capabilities: Readonly<Record<string, unknown>> | undefined,
//                      capabilityArgs: Readonly<Record<string, unknown>> | undefined): Record<string, unknown> | undefined
//                                                    the runtimeConfig to inject, or undefined for "inject nothing"

/** The value shape of a capability: which object keys to re-case, and where. */
import { isRecord } from "./is-record.ts";

type Shape = { kind: "object"; keys: readonly string[] } | { kind: "list"; of: Shape } | { kind: "opaque" };

const OPAQUE: Shape = { kind: "opaque" };
const object = (...keys: string[]): Shape => ({ kind: "object", keys });
const list = (of: Shape): Shape => ({ kind: "list", of });

// CONVENTIONS.md well-known capabilities, plus the ones Kubernetes runtimes and Multus use.
const SHAPES: Readonly<Record<string, Shape>> = {
  portMappings: list(object("hostPort", "containerPort", "protocol", "hostIP")),
  ipRanges: list(list(object("subnet", "rangeStart", "rangeEnd", "gateway"))),
  bandwidth: object("ingressRate", "ingressBurst", "egressRate", "egressBurst"),
  dns: object("servers", "searches", "options"),
  ips: OPAQUE,
  mac: OPAQUE,
  infinibandGUID: OPAQUE,
  deviceID: OPAQUE,
  aliases: OPAQUE,
  cgroupPath: OPAQUE,
  // A map of pod annotations: its keys are data, never re-cased.
  "io.kubernetes.cri.pod-annotations": OPAQUE,
  // Multus/device-info spec spelling (capital C is the real name).
  CNIDeviceInfoFile: OPAQUE,
};

export const WELL_KNOWN_CAPABILITIES: readonly string[] = Object.keys(SHAPES);

const BY_LOWER = new Map<string, string>(WELL_KNOWN_CAPABILITIES.map((n) => [n.toLowerCase(), n]));


export function canonicalCapabilityName(name: string): string {
  return BY_LOWER.get(name.toLowerCase()) ?? name;
}

function reshape(value: unknown, shape: Shape): unknown {
  switch (shape.kind) {
    case "opaque":
      return value;
    case "list":
      return Array.isArray(value) ? value.map((v: unknown) => reshape(v, shape.of)) : value;
    case "object": {
      if (!isRecord(value)) return value;
      const out: Record<string, unknown> = {};
      const canonical = new Map(shape.keys.map((k) => [k.toLowerCase(), k]));
      // Two passes: a key already in spec spelling wins over a differently-cased duplicate.
      for (const [k, v] of Object.entries(value)) {
        const c = canonical.get(k.toLowerCase());
        if (c === undefined) out[k] = v;
        else if (c !== k) out[c] = v;
      }
      for (const [k, v] of Object.entries(value)) {
        if (shape.keys.includes(k)) out[k] = v;
      }
      return out;
    }
  }
}

export function normalizeCapabilityValue(name: string, value: unknown): unknown {
  const shape = SHAPES[canonicalCapabilityName(name)];
  return shape === undefined ? value : reshape(value, shape);
}

export function normalizeCapabilityArgs(args: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const entries = Object.entries(args);
  // A name already in canonical spelling wins over a differently-cased duplicate.
  for (const [name, value] of entries) {
    const c = canonicalCapabilityName(name);
    if (c !== name) out[c] = normalizeCapabilityValue(c, value);
  }
  for (const [name, value] of entries) {
    if (canonicalCapabilityName(name) === name) out[name] = normalizeCapabilityValue(name, value);
  }
  return out;
}

/** Look up `name` in `args`: exact spelling first, then case-insensitively. */
function lookup(args: Readonly<Record<string, unknown>>, name: string): { found: true; value: unknown } | { found: false } {
  if (Object.hasOwn(args, name)) return { found: true, value: args[name] };
  const lower = name.toLowerCase();
  for (const [k, v] of Object.entries(args)) {
    if (k.toLowerCase() === lower) return { found: true, value: v };
  }
  return { found: false };
}

/**
 * The `runtimeConfig` to inject into one plugin's request, or undefined when nothing is to be injected
 * (the configuration's own runtimeConfig, if any, then stays as it is — libcni injectRuntimeConfig).
 */
export function buildRuntimeConfig(
  capabilities: Readonly<Record<string, unknown>> | undefined,
  capabilityArgs: Readonly<Record<string, unknown>> | undefined,
): Record<string, unknown> | undefined {
  if (capabilities === undefined || capabilityArgs === undefined) return undefined;
  const rc: Record<string, unknown> = {};
  for (const [declared, enabled] of Object.entries(capabilities)) {
    // SPEC: only capabilities the plugin declares with `true`.
    if (enabled !== true) continue;
    const hit = lookup(capabilityArgs, declared);
    // libcni: a key supplied with a JSON null still counts as supplied.
    if (!hit.found || hit.value === undefined) continue;
    const name = canonicalCapabilityName(declared);
    rc[name] = normalizeCapabilityValue(name, hit.value);
  }
  return Object.keys(rc).length > 0 ? rc : undefined;
}
