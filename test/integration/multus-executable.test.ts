// The plugin side of dist/bin/multus and dist/bin/passthru, driven through the real executables with
// env and stdin as a runtime would (no network needed). Real: the SEA binaries built by scripts/build.ts.
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
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

test("config-file mode never loads the Kubernetes client, even when the runtime names a pod (HTTP/2 and TLS cost a thin call ≈ 9 ms)", async () => {
  const dir = await mkdtemp(join(tmpdir(), "mt-modules-"));
  try {
    // Node's own record of the built-in modules this process loaded, written as it exits.
    const probe = join(dir, "probe.cjs");
    await writeFile(probe, `process.on("exit", () => require("node:fs").writeFileSync(process.env.MT_MODULES_OUT, process.moduleLoadList.join("\\n")));\n`);
    const loaded = async (conf: Record<string, unknown>, out: string): Promise<string[]> => {
      await runExecutable("multus", {
        env: {
          CNI_COMMAND: "DEL", ...base, CNI_CONTAINERID: `mods${String(Date.now())}`,
          CNI_ARGS: "IgnoreUnknown=1;K8S_POD_NAMESPACE=ns1;K8S_POD_NAME=web;K8S_POD_UID=u1",
          NODE_OPTIONS: `--require ${probe}`, MT_MODULES_OUT: join(dir, out),
        },
        stdin: JSON.stringify({ cniVersion: "1.0.0", name: "m", type: "multus", cniDir: join(dir, "cni"), ...conf }),
      });
      return (await readFile(join(dir, out), "utf8")).split("\n");
    };
    const configFile = await loaded({ delegates: [{ type: "passthru", name: "p" }] }, "config-file.txt");
    assert.ok(configFile.includes("NativeModule fs"), "the probe records the process's built-ins");
    assert.ok(!configFile.includes("NativeModule http2") && !configFile.includes("NativeModule tls"), `config-file mode loaded the client: ${configFile.filter((m) => /http|tls/.test(m)).join(", ")}`);
    // The probe sees the client when a kubeconfig is named (this one does not exist: the DEL only tries).
    const withApi = await loaded({ delegates: [{ type: "passthru", name: "p" }], kubeconfig: join(dir, "absent.kubeconfig") }, "kubernetes.txt");
    assert.ok(withApi.includes("NativeModule http2"), "with a kubeconfig the client is loaded");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
