// NetworkAttachmentDefinition decoding and NAD → delegate config (NPWG-01…04). The confDir cases read
// the fixture directory test/fixtures/netattach/confdir (and temp dirs); nothing else touches disk.
import assert from "node:assert/strict";
import { chmod, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import type { NetConfList } from "../../src/cni/types.ts";
import { MultusError } from "../../src/util/multus-error.ts";
import { DelegateConfigError } from "../../src/cni/delegate-config.ts";
import {
  decodeNad,
  delegateConfigFromFile,
  delegateConfigFromNad,
  findDelegateConfigByName,
  nadKey,
  resourceNameOf,
  type DelegateConfigOptions,
  type NetworkAttachmentDefinition,
} from "../../src/netattach/network-attachment-definition.ts";

const CONF_DIR = fileURLToPath(new URL("../fixtures/netattach/confdir", import.meta.url));
const NO_DIR = "/nonexistent/multus-ts/confdir";

function nad(name: string, config?: string, namespace = "team-a"): NetworkAttachmentDefinition {
  return { metadata: { name, namespace }, ...(config === undefined ? {} : { spec: { config } }) };
}

async function rejection(p: Promise<unknown>, code: string): Promise<MultusError | DelegateConfigError> {
  try {
    await p;
  } catch (err) {
    // The gate's errors (src/cni/delegate-config.ts) carry the same catalogue codes.
    assert.ok(err instanceof MultusError || err instanceof DelegateConfigError, `expected a MultusError, got ${String(err)}`);
    assert.equal(err.errorCode, code);
    assert.ok(!err.message.includes("\n"), "messages are one line");
    return err;
  }
  assert.fail("expected a rejection");
}

function decodeFailure(json: unknown): MultusError {
  try {
    decodeNad(json);
  } catch (err) {
    assert.ok(err instanceof MultusError);
    assert.equal(err.errorCode, "MULTUS_ERR_NAD_CONFIG");
    return err;
  }
  assert.fail("expected decodeNad to fail");
}

function capturingLogger(): { logger: NonNullable<DelegateConfigOptions["logger"]>; warnings: Record<string, unknown>[] } {
  const warnings: Record<string, unknown>[] = [];
  return { logger: { warn: (fields, msg) => { warnings.push({ ...fields, msg }); } }, warnings };
}

// --- NPWG-01 decoding ------------------------------------------------------------------------------

test("NPWG-01 decodeNad: an API object with and without spec; extra fields dropped", () => {
  const withSpec = decodeNad({
    apiVersion: "k8s.cni.cncf.io/v1",
    kind: "NetworkAttachmentDefinition",
    metadata: {
      name: "macvlan-conf",
      namespace: "default",
      uid: "0b8f3c2e-1111-2222-3333-444455556666",
      resourceVersion: "42",
      annotations: { "k8s.v1.cni.cncf.io/resourceName": "intel.com/sriov_netdevice" },
    },
    spec: { config: '{"cniVersion":"1.0.0","type":"macvlan"}' },
  });
  assert.deepEqual(withSpec, {
    metadata: {
      name: "macvlan-conf",
      namespace: "default",
      uid: "0b8f3c2e-1111-2222-3333-444455556666",
      annotations: { "k8s.v1.cni.cncf.io/resourceName": "intel.com/sriov_netdevice" },
    },
    spec: { config: '{"cniVersion":"1.0.0","type":"macvlan"}' },
  });
  assert.deepEqual(decodeNad({ metadata: { name: "from-file", namespace: "default" } }), { metadata: { name: "from-file", namespace: "default" } });
  assert.deepEqual(decodeNad({ metadata: { name: "empty-spec", namespace: "default" }, spec: {} }), {
    metadata: { name: "empty-spec", namespace: "default" },
    spec: {},
  });
});

test("NPWG-01 NPWG-04 decodeNad rejects what is not a usable NAD, naming it", () => {
  const rows: [unknown, RegExp][] = [
    [null, /^NetworkAttachmentDefinition: is not a JSON object/],
    [{ apiVersion: "v1", metadata: { name: "a", namespace: "b" } }, /apiVersion is "v1", expected "k8s\.cni\.cncf\.io\/v1"/],
    [{ kind: "Pod", metadata: { name: "a", namespace: "b" } }, /kind is "Pod", expected "NetworkAttachmentDefinition"/],
    [{ spec: {} }, /has no metadata object/],
    [{ metadata: { namespace: "b" } }, /metadata\.name is missing/],
    [{ metadata: { name: "a" } }, /NetworkAttachmentDefinition "a": metadata\.namespace is missing/],
    [{ metadata: { name: "Net_A", namespace: "b" } }, /NetworkAttachmentDefinition b\/Net_A: the name is not a DNS-1123 label/],
    [{ metadata: { name: "net.a", namespace: "b" } }, /b\/net\.a: the name is not a DNS-1123 label/],
    [{ metadata: { name: "a", namespace: "b", annotations: { x: 1 } } }, /b\/a: metadata\.annotations must map names to strings/],
    [{ metadata: { name: "a", namespace: "b" }, spec: { config: { type: "bridge" } } }, /b\/a: spec\.config must be a string/],
    [{ metadata: { name: "a", namespace: "b" }, spec: "x" }, /b\/a: spec is not an object/],
  ];
  for (const [json, re] of rows) assert.match(decodeFailure(json).message, re);
});

test("NPWG-01 nadKey and resourceNameOf", () => {
  assert.equal(nadKey("team-a", "net-a"), "team-a/net-a");
  const n = nad("sriov");
  assert.equal(resourceNameOf(n), undefined);
  n.metadata.annotations = { "k8s.v1.cni.cncf.io/resourceName": " intel.com/sriov_netdevice " };
  assert.equal(resourceNameOf(n), "intel.com/sriov_netdevice");
  n.metadata.annotations = { "k8s.v1.cni.cncf.io/resourceName": "" };
  assert.equal(resourceNameOf(n), undefined);
});

// --- NPWG-02/03 spec.config ------------------------------------------------------------------------

test("NPWG-02 spec.config conf → one-plugin list keeping its cniVersion and name (libcni ConfListFromConf)", async () => {
  const list = await delegateConfigFromNad(nad("net-a", '{"cniVersion":"0.4.0","name":"mv","type":"macvlan","master":"eth0","ipam":{"type":"static"}}'), NO_DIR);
  assert.deepEqual(list.list, {
    cniVersion: "0.4.0",
    name: "mv",
    plugins: [{ cniVersion: "0.4.0", name: "mv", type: "macvlan", master: "eth0", ipam: { type: "static" } }],
  });
});

test("NPWG-02 spec.config conflist is kept whole; spec.config wins over a file with the same name", async () => {
  const config = '{"cniVersion":"1.1.0","name":"net-file","disableCheck":true,"custom":{"k":1},"plugins":[{"type":"ptp"},{"type":"portmap","capabilities":{"portMappings":true}}]}';
  const list = await delegateConfigFromNad(nad("net-file", config), CONF_DIR);
  assert.deepEqual(list.list, {
    cniVersion: "1.1.0",
    name: "net-file",
    disableCheck: true,
    custom: { k: 1 },
    plugins: [{ type: "ptp" }, { type: "portmap", capabilities: { portMappings: true } }],
  });
});

test("NPWG-03 a config without name (or an empty one) gets the NAD's name, conf and conflist", async () => {
  const rows: [string, NetConfList][] = [
    ['{"cniVersion":"1.0.0","type":"bridge"}', { cniVersion: "1.0.0", name: "thick-net", plugins: [{ cniVersion: "1.0.0", name: "thick-net", type: "bridge" }] }],
    ['{"cniVersion":"1.0.0","name":"","type":"bridge"}', { cniVersion: "1.0.0", name: "thick-net", plugins: [{ cniVersion: "1.0.0", name: "thick-net", type: "bridge" }] }],
    ['{"cniVersion":"1.0.0","plugins":[{"type":"bridge"}]}', { cniVersion: "1.0.0", name: "thick-net", plugins: [{ type: "bridge" }] }],
    ['{"cniVersion":"1.0.0","name":null,"plugins":[{"type":"bridge"}]}', { cniVersion: "1.0.0", name: "thick-net", plugins: [{ type: "bridge" }] }],
  ];
  for (const [config, want] of rows) assert.deepEqual((await delegateConfigFromNad(nad("thick-net", config), NO_DIR)).list, want, config);
});

test("NPWG-02 a missing cniVersion takes options.defaultCniVersion, else libcni's implicit 0.1.0; cniVersions kept", async () => {
  const conf = '{"type":"bridge"}';
  assert.equal((await delegateConfigFromNad(nad("n", conf), NO_DIR)).list.cniVersion, "0.1.0");
  const withDefault = await delegateConfigFromNad(nad("n", conf), NO_DIR, { defaultCniVersion: "1.0.0" });
  assert.equal(withDefault.list.cniVersion, "1.0.0");
  assert.equal(withDefault.plugins[0]?.cniVersion, "1.0.0");
  const list = await delegateConfigFromNad(nad("n", '{"cniVersion":"","plugins":[{"type":"bridge"}]}'), NO_DIR, { defaultCniVersion: "0.4.0" });
  assert.equal(list.list.cniVersion, "0.4.0");
  const versions = await delegateConfigFromNad(nad("n", '{"cniVersions":["1.0.0","1.1.0"],"plugins":[{"type":"bridge"}]}'), NO_DIR, { defaultCniVersion: "0.4.0" });
  assert.equal(versions.list.cniVersion, undefined);
  assert.deepEqual(versions.list.cniVersions, ["1.0.0", "1.1.0"]);
});

test("NPWG-02 an invalid spec.config is MULTUS_ERR_NAD_CONFIG naming namespace/name (and the JSON position)", async () => {
  const rows: [string, RegExp][] = [
    ['{"cniVersion":"1.0.0",\n "type":"bridge",}', /^NetworkAttachmentDefinition team-a\/bad: spec\.config is not valid JSON \(line 2 column 18: expected a double-quoted property name, found "}"\); fix spec\.config$/],
    ['{"type": tru}', /spec\.config is not valid JSON \(line 1 column 13: expected "true", found "}"\)/],
    ['["bridge"]', /team-a\/bad: spec\.config is not a JSON object/],
    ['{"cniVersion":"1.0.0","name":"x"}', /spec\.config has neither "type" \(a CNI config\) nor "plugins"/],
    ['{"cniVersion":"1.0.0","type":"bridge","plugins":[]}', /spec\.config has both "type" and "plugins"/],
    ['{"cniVersion":"1.0.0","plugins":[]}', /spec\.config is not a valid CNI config: .*no plugins in list/],
    ['{"cniVersion":"1.0.0","plugins":[{"name":"x"}]}', /spec\.config is not a valid CNI config: .*missing 'type'/],
    ['{"cniVersion":"1.0.0","name":"bad name","type":"bridge"}', /spec\.config is not a valid CNI config: invalid characters found in network name "bad name"/],
    ['{"cniVersion":"2.0.0","type":"bridge"}', /spec\.config is not a valid CNI config: cniVersion "2\.0\.0" is not supported/],
    ['{"cniVersion":"1.0","type":"bridge"}', /spec\.config is not a valid CNI config: failed to parse cniVersion "1\.0"/],
    ['{"cniVersion":1,"type":"bridge"}', /spec\.config "cniVersion" must be a string/],
    ['{"name":5,"type":"bridge"}', /spec\.config "name" must be a string/],
  ];
  for (const [config, re] of rows) {
    const err = await rejection(delegateConfigFromNad(nad("bad", config), NO_DIR), "MULTUS_ERR_NAD_CONFIG");
    assert.match(err.message, re, config);
  }
});

// --- NPWG-02 confDir lookup ------------------------------------------------------------------------

test("NPWG-02 empty spec: a .conflist with the NAD's name beats a .conf that sorts first (nad-client differs)", async () => {
  const { logger, warnings } = capturingLogger();
  for (const n of [nad("net-file"), nad("net-file", ""), nad("net-file", "  \n ")]) {
    const list = await delegateConfigFromNad(n, CONF_DIR, { logger });
    assert.equal(list.name, "net-file");
    assert.deepEqual(list.plugins.map((p) => p.type), ["bridge", "tuning"]);
    assert.equal(list.list.cniVersion, "1.0.0");
  }
  // Unparsable files are skipped with a warning instead of aborting the lookup (upstream aborts).
  const files = warnings.map((w) => String(w.file));
  assert.ok(files.some((f) => f.endsWith("05-broken.conflist")), JSON.stringify(warnings));
  assert.ok(files.some((f) => f.endsWith("06-not-object.conflist")));
  assert.ok(warnings.every((w) => w.msg === "skipping unusable CNI config file"));
});

test("NPWG-02 empty spec: .conf and .json files are found by name and become one-plugin lists", async () => {
  const json = await delegateConfigFromNad(nad("conf-only"), CONF_DIR);
  assert.deepEqual(json.list, {
    cniVersion: "1.0.0",
    name: "conf-only",
    plugins: [{ cniVersion: "1.0.0", name: "conf-only", type: "ptp", ipam: { type: "host-local", subnet: "10.20.0.0/24" } }],
  });
  const noVersion = await delegateConfigFromNad(nad("no-version"), CONF_DIR, { defaultCniVersion: "1.1.0" });
  assert.equal(noVersion.list.cniVersion, "1.1.0");
});

test("NPWG-02 a matching file that is not a valid config is an error naming the file", async () => {
  const err = await rejection(delegateConfigFromNad(nad("typeless"), CONF_DIR), "MULTUS_ERR_NAD_CONFIG");
  assert.match(err.message, /^NetworkAttachmentDefinition team-a\/typeless: config file .*40-typeless\.conf has no "type" \(is it a config list\? then name it \.conflist\)$/);
});

test("NPWG-02 no spec and no file: 'the network request must fail', listing skipped files", async () => {
  const err = await rejection(delegateConfigFromNad(nad("broken"), CONF_DIR), "MULTUS_ERR_NAD_CONFIG");
  assert.match(err.message, /^NetworkAttachmentDefinition team-a\/broken: has no spec\.config and no \.conflist\/\.conf\/\.json file in .*confdir has "name": "broken" \(skipped unreadable files: .*05-broken\.conflist: invalid JSON \(line 3 column 1 \(end of input\): expected "," or "}", found end of input\); .*06-not-object\.conflist: not a JSON object\); give the NAD a spec\.config or add such a file$/);
  // Files inside sub-directories (even one named *.conf) are not configs.
  await rejection(delegateConfigFromNad(nad("in-a-directory"), CONF_DIR), "MULTUS_ERR_NAD_CONFIG");
  const missing = await rejection(delegateConfigFromNad(nad("net-a"), NO_DIR), "MULTUS_ERR_NAD_CONFIG");
  assert.match(missing.message, /team-a\/net-a: has no spec\.config and confDir \/nonexistent\/multus-ts\/confdir does not exist/);
});

test("NPWG-02 confDir edge cases: symlinked configs count, unreadable files are skipped", async () => {
  const dir = await mkdtemp(join(tmpdir(), "mt-nad-"));
  try {
    const real = join(dir, "real.target");
    await writeFile(real, '{"cniVersion":"1.0.0","name":"linked","plugins":[{"type":"bridge"}]}');
    await symlink(real, join(dir, "10-linked.conflist"));
    await symlink(join(dir, "nowhere"), join(dir, "05-dangling.conflist"));
    const list = await delegateConfigFromNad(nad("linked"), dir);
    assert.equal(list.name, "linked");

    const secret = join(dir, "01-secret.conf");
    await writeFile(secret, '{"cniVersion":"1.0.0","name":"secret","type":"bridge"}');
    await chmod(secret, 0o000);
    const { logger, warnings } = capturingLogger();
    if (process.getuid?.() === 0) {
      // root reads mode-000 files: the file is found.
      assert.equal((await delegateConfigFromNad(nad("secret"), dir, { logger })).name, "secret");
    } else {
      await rejection(delegateConfigFromNad(nad("secret"), dir, { logger }), "MULTUS_ERR_NAD_CONFIG");
    }
    assert.ok(warnings.some((w) => String(w.file).endsWith("05-dangling.conflist")), JSON.stringify(warnings));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

// --- the same lookup for the Multus config's own references (clusterNetwork / defaultNetworks) --------

test("NPWG-02 findDelegateConfigByName: conflist before conf, undefined when absent, MULTUS_ERR_CONFIG for a bad match", async () => {
  assert.deepEqual((await findDelegateConfigByName(CONF_DIR, "net-file"))?.plugins.map((p) => p.type), ["bridge", "tuning"]);
  assert.equal((await findDelegateConfigByName(CONF_DIR, "conf-only"))?.plugins[0]?.type, "ptp");
  assert.equal(await findDelegateConfigByName(CONF_DIR, "nothing-by-this-name"), undefined);
  assert.equal(await findDelegateConfigByName(NO_DIR, "net-file"), undefined);
  const err = await rejection(findDelegateConfigByName(CONF_DIR, "typeless"), "MULTUS_ERR_CONFIG");
  assert.match(err.message, /^network "typeless": config file .*40-typeless\.conf has no "type"/);
});

test("NPWG-02 delegateConfigFromFile: conf or conflist by content; the file must name its network", async () => {
  const list = await delegateConfigFromFile(join(CONF_DIR, "20-net-file.conflist"));
  assert.equal(list.name, "net-file");
  const conf = await delegateConfigFromFile(join(CONF_DIR, "50-no-version.conf"), { defaultCniVersion: "1.0.0" });
  assert.deepEqual(conf.list, { cniVersion: "1.0.0", name: "no-version", plugins: [{ cniVersion: "1.0.0", name: "no-version", type: "bridge" }] });
  const dir = await mkdtemp(join(tmpdir(), "mt-nad-"));
  try {
    const unnamed = join(dir, "unnamed.conf");
    await writeFile(unnamed, '{"cniVersion":"1.0.0","type":"bridge"}');
    assert.match((await rejection(delegateConfigFromFile(unnamed), "MULTUS_ERR_CONFIG")).message, /^config file .*unnamed\.conf has no "name"; add the network name$/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const broken = await rejection(delegateConfigFromFile(join(CONF_DIR, "05-broken.conflist")), "MULTUS_ERR_CONFIG");
  assert.match(broken.message, /05-broken\.conflist is not valid JSON \(line 3 column 1 \(end of input\)/);
  const missing = await rejection(delegateConfigFromFile(join(NO_DIR, "x.conf")), "MULTUS_ERR_CONFIG");
  assert.match(missing.message, /x\.conf cannot be read \(ENOENT\)/);
});
