// CNI-P-01…08, 10, 12, 14: the plugin skeleton driven as a runtime drives a plugin — raw env and stdin
// in, exit code and printed stdout/stderr out — through an in-memory PluginIo.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { CniError } from "../../src/cni/cni-error.ts";
import { parseCniArgs, splitCniPath } from "../../src/cni/plugin-env.ts";
import { runPlugin, type CmdArgs, type GcArgs, type PluginHandlers, type PluginSpec } from "../../src/cni/skel.ts";
import type { CniResult } from "../../src/cni/types.ts";
import { ALL_VERSIONS, versionAtLeast } from "../../src/cni/version.ts";

const ALL: PluginSpec = { supportedVersions: ALL_VERSIONS, about: "CNI plugin test v0.0.1" };

const FULL_ENV = {
  CNI_COMMAND: "ADD",
  CNI_CONTAINERID: "c0ffee",
  CNI_NETNS: "/var/run/netns/mt-skel-test-does-not-exist",
  CNI_IFNAME: "net1",
  CNI_ARGS: "IgnoreUnknown=1;K8S_POD_NAME=web",
  CNI_PATH: "/opt/cni/bin:/usr/lib/cni",
};

const bridge110 = JSON.parse(readFileSync(new URL("../fixtures/results/bridge-1.1.0.json", import.meta.url), "utf8")) as CniResult;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  stdinReads: number;
  calls: { verb: string; args: CmdArgs | GcArgs }[];
}

interface RunOptions {
  env?: Record<string, string | undefined>;
  /** Raw stdin text, or an Error to make the read fail. */
  stdin?: string | Error;
  spec?: PluginSpec;
  /** What every handler does after recording its call. */
  behave?: (verb: string) => Promise<void>;
  result?: CniResult;
  omitOptional?: boolean;
}

async function run(command: string | undefined, conf: unknown, opts: RunOptions = {}): Promise<Run> {
  const out: Run = { code: -1, stdout: "", stderr: "", stdinReads: 0, calls: [] };
  const env = { ...FULL_ENV, CNI_COMMAND: command, ...opts.env };
  const stdin = opts.stdin ?? JSON.stringify(conf);
  const record = async (verb: string, args: CmdArgs | GcArgs) => {
    out.calls.push({ verb, args });
    await opts.behave?.(verb);
  };
  const handlers: PluginHandlers = {
    add: async (a) => {
      await record("ADD", a);
      return opts.result ?? bridge110;
    },
    del: (a) => record("DEL", a),
    check: (a) => record("CHECK", a),
  };
  if (opts.omitOptional !== true) {
    handlers.gc = (a) => record("GC", a);
    handlers.status = (a) => record("STATUS", a);
  }
  out.code = await runPlugin(
    {
      env,
      stdin: () => {
        out.stdinReads++;
        return stdin instanceof Error ? Promise.reject(stdin) : Promise.resolve(Buffer.from(stdin));
      },
      stdout: (s) => (out.stdout += s),
      stderr: (s) => (out.stderr += s),
    },
    handlers,
    opts.spec ?? ALL,
  );
  return out;
}

/** The error JSON a failed run printed on stdout, as a runtime parses it. */
function errorOf(r: Run): { cniVersion?: string; code: number; msg: string; details?: string } {
  assert.equal(r.code, 1, `expected exit 1, stdout: ${r.stdout}`);
  assert.equal(r.calls.length, 0, "the handler must not run");
  return JSON.parse(r.stdout) as { cniVersion?: string; code: number; msg: string; details?: string };
}

const conf = (cniVersion: string | undefined, extra: object = {}) => ({
  ...(cniVersion === undefined ? {} : { cniVersion }),
  name: "net-a",
  type: "test",
  ...extra,
});

const VERBS_NEEDING_STDIN = ["ADD", "DEL", "CHECK", "GC", "STATUS"] as const;

// --- CNI-P-01 / CNI-P-14: exit codes, error JSON on stdout, error codes

for (const verb of VERBS_NEEDING_STDIN) {
  test(`CNI-P-01 CNI-P-14 ${verb}: a handler's CniError → exit 1, error JSON on stdout with its code, nothing on stderr`, async () => {
    const r = await run(verb, conf("1.1.0"), {
      behave: () => Promise.reject(new CniError(11, "try again later", "the daemon is starting")),
    });
    assert.equal(r.code, 1);
    assert.equal(r.calls.length, 1);
    assert.deepEqual(JSON.parse(r.stdout), { cniVersion: "1.1.0", code: 11, msg: "try again later", details: "the daemon is starting" });
    assert.equal(r.stderr, "");
  });

  test(`CNI-P-14 ${verb}: anything else thrown becomes code 999 with its message`, async () => {
    for (const thrown of [new TypeError("boom"), "plain string"]) {
      // A non-Error rejection is exactly the case under test.
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
      const r = await run(verb, conf("1.1.0"), { behave: () => Promise.reject(thrown) });
      assert.equal(r.code, 1);
      assert.equal(r.calls.length, 1);
      assert.deepEqual(JSON.parse(r.stdout), { cniVersion: "1.1.0", code: 999, msg: thrown instanceof Error ? thrown.message : thrown });
    }
  });
}

test("CNI-P-01 errors found before the config's version is known carry no cniVersion", async () => {
  const e = errorOf(await run("ADD", conf("1.1.0"), { env: { CNI_IFNAME: undefined } }));
  assert.deepEqual(e, { code: 4, msg: "required env variables [CNI_IFNAME] missing" });
  const unsupported = errorOf(await run("ADD", conf("0.9.0")));
  assert.equal(unsupported.cniVersion, undefined);
});

// --- CNI-P-02: required environment

const envCases: [verb: string, unset: string[], missing: string][] = [
  ["ADD", ["CNI_NETNS", "CNI_IFNAME", "CNI_PATH"], "[CNI_NETNS,CNI_IFNAME,CNI_PATH]"],
  ["ADD", ["CNI_PATH", "CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME"], "[CNI_CONTAINERID,CNI_NETNS,CNI_IFNAME,CNI_PATH]"],
  ["CHECK", ["CNI_NETNS"], "[CNI_NETNS]"],
  ["CHECK", ["CNI_CONTAINERID", "CNI_PATH"], "[CNI_CONTAINERID,CNI_PATH]"],
  ["DEL", ["CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH"], "[CNI_CONTAINERID,CNI_IFNAME,CNI_PATH]"],
  ["GC", ["CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH"], "[CNI_PATH]"],
  ["STATUS", ["CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH"], "[CNI_PATH]"],
];
for (const [verb, unset, missing] of envCases) {
  test(`CNI-P-02 ${verb} without ${unset.join(",")} → code 4 required env variables ${missing} missing`, async () => {
    const env = Object.fromEntries(unset.map((k) => [k, k === "CNI_PATH" ? "" : undefined]));
    const r = await run(verb, conf("1.1.0"), { env });
    assert.deepEqual(errorOf(r), { code: 4, msg: `required env variables ${missing} missing` });
    assert.equal(r.stdinReads, 0, "stdin is read only after the environment passed");
  });
}

const minimalEnv: [verb: string, keep: string[]][] = [
  ["DEL", ["CNI_COMMAND", "CNI_CONTAINERID", "CNI_IFNAME", "CNI_PATH"]],
  ["GC", ["CNI_COMMAND", "CNI_PATH"]],
  ["STATUS", ["CNI_COMMAND", "CNI_PATH"]],
  ["VERSION", ["CNI_COMMAND"]],
];
for (const [verb, keep] of minimalEnv) {
  test(`CNI-P-02 ${verb} succeeds with only ${keep.join(",")}`, async () => {
    const env = Object.fromEntries(Object.keys(FULL_ENV).filter((k) => !keep.includes(k)).map((k) => [k, undefined]));
    const r = await run(verb, conf("1.1.0"), { env });
    assert.equal(r.code, 0, r.stdout);
    assert.equal(r.calls.length, verb === "VERSION" ? 0 : 1);
  });
}

// --- CNI-P-03: containerID and interface name

const badIds: [id: string][] = [["1234%%%"], ["-leading-dash"], ["_x"], ["a b"], ["ünïcode"]];
for (const [id] of badIds) {
  for (const verb of ["ADD", "CHECK", "DEL"]) {
    test(`CNI-P-03 ${verb} with CNI_CONTAINERID ${JSON.stringify(id)} → 4 invalid characters in containerID`, async () => {
      assert.deepEqual(errorOf(await run(verb, conf("1.1.0"), { env: { CNI_CONTAINERID: id } })), {
        code: 4,
        msg: "invalid characters in containerID",
        details: id,
      });
    });
  }
}

const badIfNames: [name: string, msg: string, details?: string][] = [
  ["testnamemorethan16", "interface name is too long", "interface name should be less than 16 characters"],
  ["éééééééé", "interface name is too long", "interface name should be less than 16 characters"],
  [".", "interface name is . or .."],
  ["..", "interface name is . or .."],
  ["a b", "interface name contains / or : or whitespace characters"],
  ["a/b", "interface name contains / or : or whitespace characters"],
  ["eth0:1", "interface name contains / or : or whitespace characters"],
  ["eth\t0", "interface name contains / or : or whitespace characters"],
  ["eth\u00a00", "interface name contains / or : or whitespace characters"],
];
for (const [name, msg, details] of badIfNames) {
  test(`CNI-P-03 CNI_IFNAME ${JSON.stringify(name)} → 4 ${msg}`, async () => {
    for (const verb of ["ADD", "CHECK", "DEL"]) {
      const e = errorOf(await run(verb, conf("1.1.0"), { env: { CNI_IFNAME: name } }));
      assert.deepEqual(e, details === undefined ? { code: 4, msg } : { code: 4, msg, details });
    }
  });
}

test("CNI-P-03 valid names pass: a 15-byte ifname, IDs with _ . -", async () => {
  const r = await run("ADD", conf("1.1.0"), { env: { CNI_IFNAME: "abcdefghijklmno", CNI_CONTAINERID: "0a_b.c-d" } });
  assert.equal(r.code, 0, r.stdout);
  assert.equal(r.calls[0]?.args.ifName, "abcdefghijklmno");
});

test("CNI-P-03 a bad containerID is reported before missing variables (skel validates while it walks the list)", async () => {
  const e = errorOf(await run("ADD", conf("1.1.0"), { env: { CNI_CONTAINERID: "1234%%%", CNI_NETNS: undefined } }));
  assert.equal(e.msg, "invalid characters in containerID");
});

test("CNI-P-03 GC and STATUS do not validate CNI_CONTAINERID/CNI_IFNAME, which they do not use", async () => {
  for (const verb of ["GC", "STATUS"]) {
    const r = await run(verb, conf("1.1.0"), { env: { CNI_CONTAINERID: "1234%%%", CNI_IFNAME: "a b" } });
    assert.equal(r.code, 0, r.stdout);
  }
});

// --- CNI-P-04: stdin

for (const verb of VERBS_NEEDING_STDIN) {
  test(`CNI-P-04 ${verb}: stdin read error 5, not JSON 6, missing or bad name 7, non-string name 6`, async () => {
    const readErr = errorOf(await run(verb, undefined, { stdin: new Error("EIO: broken pipe") }));
    assert.deepEqual(readErr, { code: 5, msg: "error reading from stdin: EIO: broken pipe" });
    for (const garbage of ["not json", "", "{", "[]", "42", '"net"', "true"]) {
      const e = errorOf(await run(verb, undefined, { stdin: garbage }));
      assert.equal(e.code, 6, garbage);
      assert.match(e.msg, /^error unmarshall network config: /);
    }
    for (const stdin of ['{"cniVersion":"1.1.0","type":"x"}', '{"cniVersion":"1.1.0","name":""}', "null", '{"name":null}']) {
      assert.deepEqual(errorOf(await run(verb, undefined, { stdin })), { code: 7, msg: "missing network name" }, stdin);
    }
    assert.deepEqual(errorOf(await run(verb, conf("1.1.0", { name: "bad name!" }))), {
      code: 7,
      msg: "invalid characters found in network name",
      details: "bad name!",
    });
    assert.equal(errorOf(await run(verb, conf("1.1.0", { name: 5 }))).code, 6);
  });
}

// --- CNI-P-05: versions

for (const verb of ["ADD", "DEL"] as const) {
  test(`CNI-P-05 ${verb}: a config without cniVersion is 0.1.0`, async () => {
    const r = await run(verb, conf(undefined));
    assert.equal(r.code, 0, r.stdout);
    assert.equal(r.calls[0]?.args.config.cniVersion, "0.1.0");
    if (verb === "ADD") assert.equal((JSON.parse(r.stdout) as { cniVersion: string }).cniVersion, "0.1.0");
  });
}

// Versions that pass each verb's gate (CHECK ≥0.4.0, GC/STATUS ≥1.1.0, some supported version ≥ it) but
// are not in the plugin's list; "1.1" is 1.1.0 to Go's ParseVersion yet no exact match.
const unsupportedByVerb: Record<string, string[]> = {
  ADD: ["1.2.0", "0.9.9", "1.1"],
  DEL: ["1.2.0", "0.9.9", "1.1"],
  CHECK: ["1.0.5", "0.9.9", "1.1"],
  GC: ["1.1", "01.1.0"],
  STATUS: ["1.1", "01.1.0"],
};
for (const verb of VERBS_NEEDING_STDIN) {
  test(`CNI-P-05 ${verb}: a version the plugin does not support → 1 incompatible CNI versions`, async () => {
    const spec: PluginSpec = { supportedVersions: ["0.3.1", "1.0.0", "1.1.0"], about: "" };
    for (const v of unsupportedByVerb[verb] ?? []) {
      const e = errorOf(await run(verb, conf(v), { spec }));
      assert.deepEqual(e, { code: 1, msg: "incompatible CNI versions", details: `config is "${v}", plugin supports ["0.3.1" "1.0.0" "1.1.0"]` });
    }
  });
}

for (const v of ALL_VERSIONS) {
  const checkOk = versionAtLeast(v, "0.4.0");
  const gcOk = versionAtLeast(v, "1.1.0");
  test(`CNI-P-05 config ${v}: CHECK ${checkOk ? "runs" : "→ 1"}, GC/STATUS ${gcOk ? "run" : "→ 1"}`, async () => {
    const check = await run("CHECK", conf(v));
    if (checkOk) assert.equal(check.code, 0, check.stdout);
    else assert.deepEqual(errorOf(check), { code: 1, msg: "config version does not allow CHECK" });
    for (const verb of ["GC", "STATUS"]) {
      const r = await run(verb, conf(v));
      if (gcOk) assert.equal(r.code, 0, r.stdout);
      else assert.deepEqual(errorOf(r), { code: 1, msg: `config version does not allow ${verb}` });
    }
  });
}

test("CNI-P-05 a plugin whose newest version is older than the config refuses GC/STATUS/CHECK like skel", async () => {
  const spec: PluginSpec = { supportedVersions: ["0.3.1", "0.4.0"], about: "" };
  for (const verb of ["GC", "STATUS"]) {
    assert.deepEqual(errorOf(await run(verb, conf("1.1.0"), { spec })), { code: 1, msg: `plugin version does not allow ${verb}` });
  }
  assert.deepEqual(errorOf(await run("CHECK", conf("1.0.0"), { spec })), { code: 1, msg: "plugin version does not allow CHECK" });
});

test("CNI-P-05 a non-string cniVersion → 6; a malformed one → 1 on ADD (not supported) and 6 where skel compares it", async () => {
  for (const verb of VERBS_NEEDING_STDIN) {
    const e = errorOf(await run(verb, conf(undefined, { cniVersion: 1.1 })));
    assert.equal(e.code, 6, verb);
  }
  assert.equal(errorOf(await run("ADD", conf("1.1.x"))).code, 1);
  assert.deepEqual(errorOf(await run("CHECK", conf("1.1.x"))), { code: 6, msg: 'invalid version "1.1.x"' });
  // Go's ParseVersion reads "1.1" as 1.1.0: the gate passes, the exact-match check then refuses it.
  assert.equal(errorOf(await run("GC", conf("1.1"))).msg, "incompatible CNI versions");
});

// --- CNI-P-06: unknown and missing command

test("CNI-P-06 an unknown verb → 4 unknown CNI_COMMAND, but only after stdin passed its checks", async () => {
  assert.deepEqual(errorOf(await run("NOPE", conf("1.1.0"))), { code: 4, msg: "unknown CNI_COMMAND: NOPE" });
  assert.deepEqual(errorOf(await run("add", conf("1.1.0"))), { code: 4, msg: "unknown CNI_COMMAND: add" });
  // An unknown verb needs no other variable, and garbage stdin is reported first.
  const bare = Object.fromEntries(Object.keys(FULL_ENV).filter((k) => k !== "CNI_COMMAND").map((k) => [k, undefined]));
  assert.equal(errorOf(await run("NOPE", undefined, { stdin: "garbage", env: bare })).code, 6);
});

test("CNI-P-06 no CNI_COMMAND → the about text and versions on stderr, exit 0, nothing on stdout", async () => {
  for (const command of [undefined, ""]) {
    const r = await run(command, conf("1.1.0"));
    assert.equal(r.code, 0);
    assert.equal(r.stdout, "");
    assert.equal(r.stdinReads, 0);
    assert.equal(r.stderr, `CNI plugin test v0.0.1\nCNI protocol versions supported: ${ALL_VERSIONS.join(", ")}\n`);
  }
  // Without an about text, skel reports the missing variable instead.
  const r = await run(undefined, conf("1.1.0"), { spec: { supportedVersions: ["1.1.0"], about: "" } });
  assert.deepEqual(errorOf(r), { code: 4, msg: "required env variables [CNI_COMMAND] missing" });
});

// --- CNI-P-07: VERSION

for (const stdin of ['{"cniVersion":"0.4.0"}', '{"cniVersion":"1.1.0"}', "", "garbage"]) {
  test(`CNI-P-07 VERSION with stdin ${JSON.stringify(stdin)} → {"cniVersion":"1.1.0","supportedVersions":[…]} without reading stdin`, async () => {
    const spec: PluginSpec = { supportedVersions: ["0.3.1", "0.4.0", "1.0.0", "1.1.0"], about: "" };
    const r = await run("VERSION", undefined, { stdin, spec, env: { CNI_NETNS: "dummy", CNI_IFNAME: "dummy", CNI_PATH: "dummy" } });
    assert.equal(r.code, 0);
    assert.equal(r.stdinReads, 0);
    assert.deepEqual(JSON.parse(r.stdout), { cniVersion: "1.1.0", supportedVersions: ["0.3.1", "0.4.0", "1.0.0", "1.1.0"] });
  });
}

// --- CNI-P-08: ADD prints the result in the config's version

const goldenFile: Record<string, string> = { "1.": "bridge-1.1.0.json", "0.3": "bridge-0.4.0.json", "0.4": "bridge-0.4.0.json", "0.1": "bridge-0.2.0.json", "0.2": "bridge-0.2.0.json" };
for (const v of ALL_VERSIONS) {
  test(`CNI-P-08 ADD under a ${v} config prints the handler's 1.1.0 result as ${v}`, async () => {
    const file = Object.entries(goldenFile).find(([prefix]) => v.startsWith(prefix))?.[1] ?? "";
    const golden = { ...(JSON.parse(readFileSync(new URL(`../fixtures/results/${file}`, import.meta.url), "utf8")) as object), cniVersion: v };
    const r = await run("ADD", conf(v));
    assert.equal(r.code, 0, r.stdout);
    assert.deepEqual(JSON.parse(r.stdout), golden);
    assert.equal(r.stderr, "");
  });
}

test("CNI-P-08 ADD: a result that cannot be expressed in the config's version is an error, not a partial result", async () => {
  const r = await run("ADD", conf("0.2.0"), { result: { cniVersion: "1.1.0", interfaces: [{ name: "net1" }] } });
  assert.equal(r.code, 1);
  assert.deepEqual(JSON.parse(r.stdout), { cniVersion: "0.2.0", code: 1, msg: "cannot convert: no valid IP addresses" });
});

test("CNI-P-08 the handler gets the full config (prevResult and unknown keys included) and the parsed environment", async () => {
  const input = conf("1.1.0", { prevResult: { cniVersion: "1.1.0", ips: [] }, custom: { deep: [1, 2] } });
  const r = await run("ADD", input);
  const a = r.calls[0]?.args;
  assert.ok(a !== undefined);
  assert.deepEqual(a.config, input);
  assert.equal(a.command, "ADD");
  assert.equal(a.containerId, "c0ffee");
  assert.equal(a.netns, FULL_ENV.CNI_NETNS);
  assert.equal(a.ifName, "net1");
  assert.equal(a.args, "IgnoreUnknown=1;K8S_POD_NAME=web");
  assert.deepEqual(a.path, ["/opt/cni/bin", "/usr/lib/cni"]);
  assert.equal(a.stdinData.toString("utf8"), JSON.stringify(input));
});

for (const verb of ["ADD", "DEL"]) {
  test(`CNI-P-08 ${verb} refuses to act on the plugin's own netns (code 8) unless CNI_NETNS_OVERRIDE is set`, async () => {
    assert.deepEqual(errorOf(await run(verb, conf("1.1.0"), { env: { CNI_NETNS: "/proc/self/ns/net" } })), {
      cniVersion: "1.1.0",
      code: 8,
      msg: "plugin's netns and netns from CNI_NETNS should not be the same",
    });
    for (const override of ["1", "true", "TRUE"]) {
      const r = await run(verb, conf("1.1.0"), { env: { CNI_NETNS: "/proc/self/ns/net", CNI_NETNS_OVERRIDE: override } });
      assert.equal(r.code, 0, r.stdout);
    }
  });
}

// --- CNI-P-10 (and DEL/GC/STATUS): no output on success

for (const verb of ["CHECK", "DEL", "GC", "STATUS"]) {
  test(`CNI-P-10 ${verb} succeeds silently: exit 0, empty stdout, handler called once with prevResult intact`, async () => {
    const input = conf("1.1.0", { prevResult: bridge110 });
    const r = await run(verb, input);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, "");
    assert.equal(r.stderr, "");
    assert.equal(r.calls.length, 1);
    assert.equal(r.calls[0]?.verb, verb);
    assert.deepEqual(r.calls[0].args.config.prevResult, bridge110);
  });
}

test("CNI-P-10 missing GC/STATUS handlers mean success (skel's nil functions)", async () => {
  for (const verb of ["GC", "STATUS"]) {
    const r = await run(verb, conf("1.1.0"), { omitOptional: true });
    assert.equal(r.code, 0);
    assert.equal(r.stdout, "");
  }
});

// --- CNI-P-12: GC's valid attachments

const attachmentCases: [label: string, value: unknown, expected: unknown][] = [
  ["a list", [{ containerID: "c1", ifname: "eth0", extra: 1 }, { containerID: "c2", ifname: "net1" }], [{ containerID: "c1", ifname: "eth0" }, { containerID: "c2", ifname: "net1" }]],
  ["null", null, []],
  ["absent", undefined, []],
  ["an empty list", [], []],
];
for (const [label, value, expected] of attachmentCases) {
  test(`CNI-P-12 GC with cni.dev/valid-attachments ${label} → handler sees ${JSON.stringify(expected)}`, async () => {
    const r = await run("GC", conf("1.1.0", value === undefined ? {} : { "cni.dev/valid-attachments": value }));
    assert.equal(r.code, 0, r.stdout);
    assert.deepEqual((r.calls[0]?.args as GcArgs).validAttachments, expected);
  });
}

test("CNI-P-12 GC with malformed cni.dev/valid-attachments → 6 naming the entry", async () => {
  for (const [value, msg] of [
    [{}, "invalid cni.dev/valid-attachments: must be an array"],
    [["c1"], "invalid cni.dev/valid-attachments: [0] must be an object"],
    [[{ containerID: "c1", ifname: "eth0" }, { containerID: "c2" }], "invalid cni.dev/valid-attachments: [1].ifname must be a string"],
  ] as const) {
    assert.deepEqual(errorOf(await run("GC", conf("1.1.0", { "cni.dev/valid-attachments": value }))), { cniVersion: "1.1.0", code: 6, msg });
  }
});

// --- helpers the executables use

test("CNI-R-02 parseCniArgs reads K=V;K=V in order and rejects malformed pairs like libcni LoadArgs", () => {
  assert.deepEqual(parseCniArgs(""), []);
  assert.deepEqual(parseCniArgs("IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME="), [
    ["IgnoreUnknown", "1"],
    ["K8S_POD_NAMESPACE", "default"],
    ["K8S_POD_NAME", ""],
  ]);
  for (const [raw, pair] of [["A=1;B", "B"], ["A=1;", ""], ["A=b=c", "A=b=c"], ["novalue", "novalue"]]) {
    assert.throws(() => parseCniArgs(raw ?? ""), { code: 4, message: `ARGS: invalid pair "${pair ?? ""}"` });
  }
  assert.deepEqual(splitCniPath("/opt/cni/bin::/usr/lib/cni:"), ["/opt/cni/bin", "/usr/lib/cni"]);
  assert.deepEqual(splitCniPath(""), []);
});
