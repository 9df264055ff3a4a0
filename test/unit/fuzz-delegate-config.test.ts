// Property and fuzz tests of the one delegate-config model and gate (src/cni/delegate-config.ts), the
// code every delegate config passes before Multus runs it: any JSON, from any source, under any
// policy, gives an admitted config that holds the gate's promises, or a DelegateConfigError with a
// one-line message; never another exception, never a hang (the harness's worker watchdog).
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  admitDelegateConfig,
  DelegateConfigError,
  defaultDelegatePolicy,
  describeSource,
  isAdmitted,
  MULTUS_EXECUTABLES,
  restoreDelegateConfig,
  reviseDelegateConfig,
  type DelegateConfig,
  type DelegatePolicy,
  type DelegateSource,
} from "../../src/cni/delegate-config.ts";
import { validateNetworkName } from "../../src/cni/plugin-env.ts";
import { assertOneLine, fuzz, fuzzExample, fuzzProperties, jsonValue, mutatedJson, outcomeOf } from "../helpers/fuzz.ts";

const TYPES = ["bridge", "macvlan", "host-local", "static", "tuning", "portmap", "firewall", "flannel", "whereabouts", "dhcp", "sriov", "ovs", ...MULTUS_EXECUTABLES];
const PATH_KEYS = ["dataDir", "daemonSocketPath", "resolvConf", "logFile", "log_file", "configuration_path", "subnetFile", "socket_file", "kubeconfig"];

const source: fc.Arbitrary<DelegateSource> = fc.oneof(
  fc.constant<DelegateSource>({ kind: "admin", where: "config file /etc/cni/net.d/10-x.conf" }),
  fc.constantFrom("team-a", "kube-system").map((namespace): DelegateSource => ({ kind: "nad", namespace, name: "net" })),
  fc.constant<DelegateSource>({ kind: "nad", namespace: "team-a", name: "net", file: "/etc/cni/multus/net.d/net.conf" }),
  fc.constant<DelegateSource>({ kind: "annotation", namespace: "team-a", name: "net", pod: "team-a/p" }),
  fc.constant<DelegateSource>({ kind: "hotplug", where: "the hot-plug request's network config" }),
  fc.constant<DelegateSource>({ kind: "record", where: "the journal x, attachment 0" }),
);

const policy: fc.Arbitrary<DelegatePolicy> = fc.record({
  allowedTypes: fc.option(fc.subarray(TYPES), { nil: undefined }),
  deniedTypes: fc.subarray(TYPES, { maxLength: 3 }),
  allowedHostPaths: fc.subarray(["/var/lib/cni/networks/", "/tmp/ipam/", "/run/cni/dhcp.sock", "/etc/cni/net.d/whereabouts.d/"]),
  trustedNamespaces: fc.subarray(["kube-system", "team-a"]),
});

const pathValue = fc.oneof(fc.constantFrom("/var/lib/cni/networks", "/tmp/ipam/x", "/etc", "/tmp/ipam/../../etc", "relative/dir", "unix:/run/x.sock", "tcp:1.2.3.4:6640", ""), fc.string({ maxLength: 20 }), jsonValue(1));

/** Plugin configs that reach every rule: real types and Multus's own, IPAMs, path keys, runtime keys, sysctls, nesting. */
const plugin: fc.Arbitrary<Record<string, unknown>> = fc.record(
  {
    type: fc.oneof(fc.constantFrom(...TYPES), fc.string({ maxLength: 12 })),
    ipam: fc.option(fc.record({ type: fc.constantFrom("host-local", "whereabouts", "dhcp", "static", "multus"), dataDir: pathValue, daemonSocketPath: pathValue, kubernetes: fc.record({ kubeconfig: pathValue }), log_file: pathValue }, { requiredKeys: ["type"] }), { nil: undefined }),
    extra: fc.dictionary(fc.constantFrom(...PATH_KEYS, "runtimeConfig", "prevResult", "conditionsV4", "iptablesAdminChainName", "capabilities", "args", "name", "cniVersion"), pathValue, { maxKeys: 3 }),
    sysctl: fc.option(fc.dictionary(fc.oneof(fc.constantFrom("net.ipv4.ip_forward", "kernel.core_pattern", "net..x", "net/ipv6/conf/all/forwarding"), fc.string({ maxLength: 10 })), fc.string({ maxLength: 4 }), { maxKeys: 2 }), { nil: undefined }),
    delegate: fc.option(fc.record({ type: fc.constantFrom(...TYPES), ipam: fc.record({ type: fc.constantFrom("host-local", "multus"), dataDir: pathValue }) }), { nil: undefined }),
  },
  { requiredKeys: ["type", "extra"] },
).map(({ extra, ...p }) => ({ ...extra, ...Object.fromEntries(Object.entries(p).filter(([, v]) => v !== undefined)) }));

const config: fc.Arbitrary<unknown> = fc.oneof(
  plugin.map((p) => ({ cniVersion: "1.0.0", name: "net", ...p })),
  fc.array(plugin, { minLength: 1, maxLength: 3 }).map((plugins) => ({ cniVersion: "1.0.0", name: "net", plugins })),
);

/** Admit (or restore a record); the gate's error is the only acceptable exception. */
function admit(raw: unknown, s: DelegateSource, p: DelegatePolicy): { value: DelegateConfig } | { error: Error } {
  return outcomeOf(
    () => (s.kind === "record" ? restoreDelegateConfig(raw, s, { fallbackName: "fallback" }) : admitDelegateConfig(raw, { source: s, policy: p, defaultCniVersion: "1.0.0", fallbackName: "fallback" })),
    (err) => err instanceof DelegateConfigError && err.code === 7 && err.message.startsWith(describeSource(s)),
  );
}

/** Every `type` string in a value, at any depth, the key spelt in any case (Go plugins read it so). */
function typesIn(v: unknown): string[] {
  if (Array.isArray(v)) return v.flatMap(typesIn);
  if (typeof v !== "object" || v === null) return [];
  return Object.entries(v).flatMap(([k, x]) => (k.replace(/\u017f/g, "s").replace(/\u212a/g, "k").toLowerCase() === "type" && typeof x === "string" ? [x] : typesIn(x)));
}

/** A key respelt as a Go plugin would still read it: another ASCII case, or with "ſ"/"K" for s/k. */
const respelt = (key: string, how: number): string =>
  Array.from(key, (c, i) => ((how >> i) & 1 ? (c === "s" ? "\u017f" : c === "k" ? "\u212a" : c.toUpperCase()) : c)).join("");

function check(raw: unknown, s: DelegateSource, p: DelegatePolicy): DelegateConfig | undefined {
  const out = admit(raw, s, p);
  if ("error" in out) {
    assertOneLine(out.error.message);
    return undefined;
  }
  const c = out.value;
  assert.ok(isAdmitted(c));
  assert.ok(Object.isFrozen(c) && Object.isFrozen(c.list));
  validateNetworkName(c.name);
  assert.equal(c.list.name, c.name);
  assert.deepEqual(JSON.parse(c.runnable.bytes.toString("utf8")), c.list, "the runner runs exactly the admitted list");
  assert.ok(c.plugins.length >= 1 && c.plugins.every((x) => typeof x.type === "string" && x.type !== ""));
  assert.deepEqual(typesIn(c.list).filter((t) => MULTUS_EXECUTABLES.includes(t)), [], "Multus's own programs never pass, at any depth");
  // Admitting what was admitted again, from the same source, changes nothing.
  const again = admit(structuredClone(c.list), s, p);
  assert.ok("value" in again, `re-admission of an admitted config failed: ${"error" in again ? again.error.message : ""}`);
  assert.deepEqual(again.value.list, c.list);
  return c;
}

fuzzProperties(import.meta.url, {
  "any JSON, any source, any policy: an admitted config that holds the gate's promises, or the gate's one-line error": fuzz(() => fc.property(jsonValue(4), source, policy, (raw, s, p) => {
    check(raw, s, p);
  }), { weight: 6 }),
  "near-valid configs (real and Multus types, IPAMs, path and runtime keys, sysctls, nesting): the same": fuzz(() => fc.property(config, source, policy, (raw, s, p) => {
    check(raw, s, p);
  }), { weight: 10 }),
  "structurally mutated configs: the same": fuzz(() => fc.property(mutatedJson(config), source, policy, (raw, s, p) => {
    check(raw, s, p);
  }), { weight: 6 }),
  "what a tenant's network may run, the administrator's may too (the policy only ever narrows)": fuzz(() => fc.property(config, policy, (raw, p) => {
    const tenant = admit(raw, { kind: "nad", namespace: "team-a", name: "net" }, { ...p, trustedNamespaces: [] });
    if ("value" in tenant) assert.ok("value" in admit(raw, { kind: "admin", where: "config file x" }, p), "admitted for a tenant but refused for the administrator");
  }), { weight: 4 }),
  "a Multus program put anywhere into an admitted config is refused, from every source": fuzz(() => fc.property(config, source, policy, fc.constantFrom(...MULTUS_EXECUTABLES), fc.nat(), (raw, s, p, exe, where) => {
    const c = check(raw, s, p);
    if (c === undefined) return;
    const poisoned = structuredClone(c.list) as { plugins: Record<string, unknown>[] };
    const target = poisoned.plugins[where % poisoned.plugins.length] ?? {};
    if (where % 3 === 0) target[respelt("type", where >> 2)] = exe;
    else if (where % 3 === 1) target[respelt("ipam", where >> 2)] = { [respelt("type", where >> 6)]: exe };
    else target["nested"] = [{ deep: { [respelt("type", where)]: exe } }];
    const out = admit(poisoned, s, p);
    assert.ok("error" in out && out.error instanceof DelegateConfigError && out.error.errorCode === "MULTUS_ERR_DELEGATE_REFUSED", `${exe} was admitted`);
    // And a revision of an admitted config (a selection's cni-args, a device) cannot smuggle it in.
    if (s.kind !== "record") {
      assert.throws(() => reviseDelegateConfig(c, () => poisoned as never, { policy: p }), (err: unknown) => err instanceof DelegateConfigError && err.errorCode === "MULTUS_ERR_DELEGATE_REFUSED");
    }
  }), { weight: 4 }),
});

fuzzExample("the default policy admits the reference plugins' usual NADs unchanged", () => {
  const p = defaultDelegatePolicy("kube-system");
  for (const raw of [
    { cniVersion: "1.0.0", name: "mynet", type: "bridge", bridge: "mynet0", isGateway: true, ipam: { type: "host-local", subnet: "10.10.0.0/16" } },
    { cniVersion: "0.3.1", name: "mv", type: "macvlan", master: "eth1", mode: "bridge", ipam: { type: "whereabouts", range: "192.168.2.0/24", kubernetes: { kubeconfig: "/etc/cni/net.d/whereabouts.d/whereabouts.kubeconfig" } } },
    { cniVersion: "1.0.0", name: "sriov-net", plugins: [{ type: "sriov", vlan: 100, ipam: { type: "host-local", subnet: "10.56.217.0/24" } }, { type: "tuning", sysctl: { "net.ipv4.conf.IFNAME.arp_filter": "1" } }] },
  ]) {
    assert.ok("value" in admit(raw, { kind: "nad", namespace: "team-a", name: "n" }, p), JSON.stringify(raw));
  }
});
