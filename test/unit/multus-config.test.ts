// Multus config parsing and config-file planning: pure functions, no I/O.
import assert from "node:assert/strict";
import { test } from "node:test";
import { CniError } from "../../src/cni/cni-error.ts";
import { planFromDelegates, type CniRequest } from "../../src/multus/config-file-planner.ts";
import { DEFAULTS, parseMultusConfig } from "../../src/multus/multus-config.ts";

const req: CniRequest = {
  containerId: "c1",
  netns: "/run/netns/p",
  ifName: "eth0",
  cniArgs: [["IgnoreUnknown", "1"], ["K8S_POD_NAME", "p"]],
  runtimeConfig: { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: "tcp" }] },
};

const bridge = { cniVersion: "1.0.0", name: "br", type: "bridge" };
const macvlan = { name: "mv", type: "macvlan", master: "eth1" };

test("config: upstream defaults for every unset key", () => {
  const c = parseMultusConfig({ cniVersion: "1.0.0", type: "multus", delegates: [bridge] }, "test");
  assert.equal(c.name, "multus-cni-network");
  assert.equal(c.confDir, DEFAULTS.confDir);
  assert.equal(c.cniDir, "/var/lib/cni/multus");
  assert.equal(c.binDir, "/opt/cni/bin");
  assert.equal(c.multusNamespace, "kube-system");
  assert.deepEqual(c.systemNamespaces, ["kube-system"]);
  assert.deepEqual(c.globalNamespaces, ["default"]);
  assert.equal(c.namespaceIsolation, false);
});

test("config: an invalid key names the key and the source", () => {
  const bad = (json: unknown): CniError => {
    try {
      parseMultusConfig(json, "/etc/cni/net.d/00-multus.conf");
    } catch (err) {
      assert.ok(err instanceof CniError);
      return err;
    }
    assert.fail("expected an error");
  };
  const e1 = bad({ cniVersion: "1.0.0", delegates: [bridge], namespaceIsolation: "yes" });
  assert.equal(e1.code, 7);
  assert.match(e1.message, /\/etc\/cni\/net\.d\/00-multus\.conf: key "namespaceIsolation"/);
  const e2 = bad({ cniVersion: "1.0.0", delegates: [{ name: "x" }] });
  assert.match(e2.message, /key "delegates\.0".*"type"/);
  const e3 = bad({ cniVersion: "1.0.0" });
  assert.match(e3.message, /"clusterNetwork" or a non-empty "delegates"/);
  const e4 = bad({ cniVersion: "1.0.0", delegates: [{ ...bridge, masterplugin: true }, { ...macvlan, masterplugin: true }] });
  assert.match(e4.message, /more than one delegate has "masterplugin": true/);
  const e5 = bad({ cniVersion: "1.0.0", delegates: [bridge, bridge] });
  assert.match(e5.message, /two delegates are named "br"/);
  const e6 = bad({ delegates: [bridge] });
  assert.match(e6.message, /"cniVersion" is required/);
});

test("config: a conf delegate becomes a one-plugin list; cniVersion and a missing name are filled in", () => {
  const c = parseMultusConfig({ cniVersion: "0.4.0", delegates: [{ type: "ptp", masterplugin: false }] }, "t");
  const d = c.delegates[0];
  assert.ok(d !== undefined);
  assert.equal(d.name, "ptp-0");
  assert.equal(d.delegate.list.cniVersion, "0.4.0");
  assert.equal(d.delegate.list.plugins.length, 1);
  assert.equal(d.delegate.list.plugins[0]?.["masterplugin"], undefined, "masterplugin is Multus's key, never the plugin's");
});

test("planner: first delegate is eth0 with the runtime's runtimeConfig; the others net1, net2 without it (NPWG-28)", () => {
  const c = parseMultusConfig({ cniVersion: "1.0.0", delegates: [bridge, macvlan, { ...macvlan, name: "mv2" }] }, "t");
  const plan = planFromDelegates(c, req);
  assert.deepEqual(plan.attachments.map((a) => [a.network, a.ifName, a.isDefault]), [
    ["br", "eth0", true],
    ["mv", "net1", false],
    ["mv2", "net2", false],
  ]);
  const [eth0, net1] = plan.attachments;
  assert.ok(eth0 !== undefined && net1 !== undefined);
  assert.deepEqual(eth0.capabilityArgs, req.runtimeConfig);
  assert.deepEqual(net1.capabilityArgs, {});
  assert.deepEqual(net1.cniArgs, [["IgnoreUnknown", "true"], ["K8S_POD_NAME", "p"]]);
});

test("planner: the masterplugin delegate runs first as eth0; secondaries keep file order from net1", () => {
  const c = parseMultusConfig({ cniVersion: "1.0.0", delegates: [macvlan, { ...bridge, masterplugin: true }, { ...macvlan, name: "mv2" }] }, "t");
  const plan = planFromDelegates(c, req);
  assert.deepEqual(plan.attachments.map((a) => `${a.network}:${a.ifName}`), ["br:eth0", "mv:net1", "mv2:net2"]);
});

test("planner: CNI_IFNAME colliding with a generated name fails before anything runs", () => {
  const c = parseMultusConfig({ cniVersion: "1.0.0", delegates: [bridge, macvlan] }, "t");
  assert.throws(() => planFromDelegates(c, { ...req, ifName: "net1" }), /interface name "net1" is already used by network "br"/);
});

test("config: budgets, log rotation and unknown keys (upstream's lumberjack defaults; 0 maxSize is the default size)", () => {
  const c = parseMultusConfig({ cniVersion: "1.0.0", delegates: [bridge], clusterNetwrok: "x", "cni.dev/valid-attachments": [], prevResult: {} }, "t");
  assert.equal(c.operationTimeoutMs, 90_000);
  assert.equal(c.rollbackTimeoutMs, 20_000);
  assert.equal(c.delegateTimeoutMs, undefined);
  assert.deepEqual(c.logRotation, { maxSizeMb: 100, maxBackups: 5, maxAgeDays: 5, compress: true });
  assert.deepEqual(c.unknownKeys, ["clusterNetwrok"], "keys the runtime adds are known");
  const d = parseMultusConfig({ cniVersion: "1.0.0", delegates: [bridge], operationTimeoutSeconds: 30, rollbackTimeoutSeconds: 5, delegateTimeoutSeconds: 10, logOptions: { maxSize: 0, maxBackups: 0, maxAge: 0, compress: false } }, "t");
  assert.equal(d.operationTimeoutMs, 30_000);
  assert.equal(d.rollbackTimeoutMs, 5_000);
  assert.equal(d.delegateTimeoutMs, 10_000);
  assert.deepEqual(d.logRotation, { maxSizeMb: 100, maxBackups: 0, maxAgeDays: 0, compress: false });
  assert.throws(() => parseMultusConfig({ cniVersion: "1.0.0", delegates: [bridge], operationTimeoutSeconds: 0 }, "t"), /key "operationTimeoutSeconds"/);
  assert.throws(() => parseMultusConfig({ cniVersion: "1.0.0", delegates: [bridge], logOptions: { maxsize: 1 } }, "t"), /key "logOptions/);
});

test("config: logLevel is read as upstream reads it — any case; an unknown level is the default with a warning, not an error", () => {
  const base = { cniVersion: "1.0.0", clusterNetwork: "x" };
  assert.equal(parseMultusConfig({ ...base, logLevel: "Debug" }, "f").logLevel, "debug");
  assert.equal(parseMultusConfig({ ...base, logLevel: " VERBOSE " }, "f").logLevel, "verbose");
  assert.deepEqual(parseMultusConfig({ ...base, logLevel: "Debug" }, "f").warnings, []);
  const info = parseMultusConfig({ ...base, logLevel: "info" }, "/etc/cni/net.d/00-multus.conf");
  assert.equal(info.logLevel, "");
  assert.deepEqual(info.warnings, ['/etc/cni/net.d/00-multus.conf: key "logLevel": "info" is not a level Multus knows (debug, verbose, error, panic; any case): the default applies']);
  assert.throws(() => parseMultusConfig({ ...base, logLevel: 3 }, "f"), /key "logLevel"/);
});

test("config: auxiliaryCNIChainName (not implemented) is refused naming the key, never silently ignored; empty is no chain", () => {
  const base = { cniVersion: "1.0.0", clusterNetwork: "/etc/cni/net.d/10-bridge.conflist" };
  assert.throws(() => parseMultusConfig({ ...base, auxiliaryCNIChainName: "vendor-cni-chain" }, "daemon config"), /invalid Multus config in daemon config: key "auxiliaryCNIChainName" .* is not implemented by Multus-TS; remove it/);
  assert.equal(parseMultusConfig({ ...base, auxiliaryCNIChainName: "" }, "f").name, "multus-cni-network");
});

test("config: logFormat text or json in any case, like the daemon reads it; anything else is JSON with a warning", () => {
  const base = { cniVersion: "1.0.0", clusterNetwork: "x" };
  assert.equal(parseMultusConfig({ ...base, logFormat: "Text" }, "f").logFormat, "text");
  assert.equal(parseMultusConfig(base, "f").logFormat, "json");
  const odd = parseMultusConfig({ ...base, logFormat: "logfmt" }, "f");
  assert.equal(odd.logFormat, "json");
  assert.match(odd.warnings.join(), /key "logFormat": "logfmt" is not a format Multus knows/);
});
