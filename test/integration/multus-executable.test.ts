// The plugin side of dist/bin/multus and dist/bin/passthru, driven through the real executables with
// env and stdin as a runtime would (no network needed). Real: the SEA binaries built by scripts/build.ts.
import assert from "node:assert/strict";
import { test } from "node:test";
import { runExecutable, stdoutJson } from "../helpers/run-executable.ts";

const base = { CNI_CONTAINERID: "c0ffee", CNI_NETNS: "/run/netns/none", CNI_IFNAME: "eth0", CNI_PATH: "/usr/lib/cni" };
const multusConf = (v: string): string =>
  JSON.stringify({ cniVersion: v, name: "m", type: "multus", delegates: [{ type: "passthru", name: "p" }] });

test("CNI-P-07 multus VERSION lists 0.1.0 … 1.1.0; passthru 0.3.0 … 1.1.0", async () => {
  const m = stdoutJson(await runExecutable("multus", { env: { CNI_COMMAND: "VERSION" } }));
  assert.deepEqual(m["supportedVersions"], ["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]);
  const p = stdoutJson(await runExecutable("passthru", { env: { CNI_COMMAND: "VERSION" }, stdin: '{"cniVersion":"0.4.0"}' }));
  assert.deepEqual(p["supportedVersions"], ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]);
});

test("CNI-P-02 CNI-P-01 missing env: code 4 as JSON on stdout, exit 1", async () => {
  const r = await runExecutable("multus", { env: { CNI_COMMAND: "ADD", CNI_CONTAINERID: "c" }, stdin: multusConf("1.0.0") });
  assert.equal(r.code, 1);
  assert.deepEqual(stdoutJson(r), { code: 4, msg: "required env variables [CNI_NETNS,CNI_IFNAME,CNI_PATH] missing" });
});

test("CNI-P-04 garbage stdin is a decoding error (6)", async () => {
  const r = await runExecutable("multus", { env: { CNI_COMMAND: "ADD", ...base }, stdin: "{not json" });
  assert.equal(r.code, 1);
  assert.equal(stdoutJson(r)["code"], 6);
});

test("CNI-P-06 an unknown command is code 4 naming it; no CNI_COMMAND prints the about text and exits 0", async () => {
  const r = await runExecutable("multus", { env: { CNI_COMMAND: "NOPE", ...base }, stdin: multusConf("1.0.0") });
  assert.equal(r.code, 1);
  const err = stdoutJson(r);
  assert.equal(err["code"], 4);
  assert.equal(err["msg"], "unknown CNI_COMMAND: NOPE");
  const about = await runExecutable("multus", { env: {} });
  assert.equal(about.code, 0);
  assert.equal(about.stdout, "");
  assert.match(about.stderr, /Multus-TS/);
});

test("CNI-P-05 CHECK on a 0.3.1 config is refused with code 1", async () => {
  const r = await runExecutable("multus", { env: { CNI_COMMAND: "CHECK", ...base }, stdin: multusConf("0.3.1") });
  assert.equal(r.code, 1);
  assert.equal(stdoutJson(r)["code"], 1);
});

test("CNI-P-03 an invalid container ID or interface name is refused before anything runs", async () => {
  const r1 = await runExecutable("multus", { env: { CNI_COMMAND: "ADD", ...base, CNI_CONTAINERID: "1234%%%" }, stdin: multusConf("1.0.0") });
  assert.equal(stdoutJson(r1)["msg"], "invalid characters in containerID");
  const r2 = await runExecutable("multus", { env: { CNI_COMMAND: "ADD", ...base, CNI_IFNAME: "testnamemorethan16" }, stdin: multusConf("1.0.0") });
  assert.equal(stdoutJson(r2)["msg"], "interface name is too long");
});

test("multus: an invalid Multus config names the key (code 7)", async () => {
  const conf = JSON.stringify({ cniVersion: "1.0.0", name: "m", type: "multus", delegates: [{ name: "no-type" }] });
  const r = await runExecutable("multus", { env: { CNI_COMMAND: "ADD", ...base }, stdin: conf });
  assert.equal(r.code, 1);
  const err = stdoutJson(r);
  assert.equal(err["code"], 7);
  assert.match(String(err["msg"]), /key "delegates\.0"/);
});

test("CNI-P-08 passthru ADD returns an empty result in the config's version (0.3.0 … 1.1.0)", async () => {
  for (const v of ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]) {
    const r = await runExecutable("passthru", { env: { CNI_COMMAND: "ADD", ...base }, stdin: JSON.stringify({ cniVersion: v, name: "p", type: "passthru" }) });
    assert.equal(r.code, 0, r.stdout);
    const out = stdoutJson(r);
    assert.equal(out["cniVersion"], v);
    assert.equal(out["ips"], undefined);
  }
  const old = await runExecutable("passthru", { env: { CNI_COMMAND: "ADD", ...base }, stdin: '{"cniVersion":"0.2.0","name":"p","type":"passthru"}' });
  assert.equal(stdoutJson(old)["code"], 1, "0.2.0 is not a passthru version");
});
