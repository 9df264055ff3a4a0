// The daemon config file (src/daemon/daemon-config.ts): upstream's keys and defaults, thin keys kept
// as overrides of every request (but never the CNI protocol's own keys), unknown keys reported, and
// errors that name the file and the key.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseDaemonConfig, withOverrides } from "../../src/daemon/daemon-config.ts";

describe("daemon config", () => {
  test("defaults follow upstream: /run/multus, /etc/cni/net.d, auto, the master dir = the config dir", () => {
    const c = parseDaemonConfig({}, "daemon-config.json");
    assert.equal(c.socketDir, "/run/multus");
    assert.equal(c.cniConfigDir, "/etc/cni/net.d");
    assert.equal(c.multusAutoconfigDir, "/etc/cni/net.d");
    assert.equal(c.multusConfigFile, "auto");
    assert.equal(c.connectionLimit, 32);
    assert.equal(c.metricsPort, undefined);
    assert.deepEqual(c.overrides, {});
  });

  test("an upstream daemon-config.json: thin keys become overrides, daemon and generator keys do not, chrootDir is the delegates' root", () => {
    const c = parseDaemonConfig(
      {
        chrootDir: "/hostroot/", cniVersion: "0.3.1", logLevel: "verbose", logToStderr: true, cniConfigDir: "/host/etc/cni/net.d",
        multusAutoconfigDir: "/host/etc/cni/net.d", multusConfigFile: "auto", socketDir: "/host/run/multus/", metricsPort: 9091,
        connectionLimit: 4, namespaceIsolation: true, globalNamespaces: "default,shared", name: "evil", type: "evil",
        capabilities: { portMappings: true }, flavour: "x",
      },
      "/etc/cni/net.d/multus.d/daemon-config.json",
    );
    assert.equal(c.socketDir, "/host/run/multus/");
    assert.equal(c.connectionLimit, 4);
    assert.equal(c.metricsPort, 9091);
    assert.equal(c.cniVersion, "0.3.1");
    assert.deepEqual(c.capabilities, { portMappings: true });
    assert.deepEqual(c.overrides, { logLevel: "verbose", logToStderr: true, namespaceIsolation: true, globalNamespaces: "default,shared" });
    assert.equal(c.chrootDir, "/hostroot/");
    assert.deepEqual(c.ignoredKeys, []);
    assert.deepEqual(c.unknownKeys, ["flavour", "name", "type"]);
  });

  test("a bad value names the file and the key", () => {
    assert.throws(() => parseDaemonConfig({ connectionLimit: 0 }, "/x/daemon-config.json"), /invalid daemon config in \/x\/daemon-config\.json: key "connectionLimit"/);
    assert.throws(() => parseDaemonConfig([], "/x/daemon-config.json"), /must be a JSON object/);
  });

  test("overrides win over the request's keys", () => {
    assert.deepEqual(withOverrides({ a: 1, b: 2 }, { b: 3 }), { a: 1, b: 3 });
  });
});
