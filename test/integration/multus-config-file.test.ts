// Config-file Multus end to end: dist/bin/multus executed as a runtime would (env + stdin, inside a
// throw-away node namespace), delegating to the REAL reference plugins in /usr/lib/cni (bridge,
// host-local, macvlan on a veth parent, ptp, tuning, portmap). Fake plugins (shell scripts) stand in
// only where no real plugin behaves that way: a hang, a crash, and CNI 1.1.0 STATUS/GC, which the
// Debian plugins (1.1.1, CNI ≤ 1.0.0) do not implement.
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { execFileSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, before, beforeEach, describe, test } from "node:test";
import { FakePluginDir } from "../helpers/fake-plugin.ts";
import {
  createNetns,
  createVethPair,
  deleteNetns,
  findResidue,
  listAddresses,
  listLinks,
  execInNetns,
  snapshotNode,
  type Netns,
  type NodeSnapshot,
} from "../helpers/netns.ts";
import { runExecutable, startExecutable, stdoutJson, type RunResult } from "../helpers/run-executable.ts";

const REF = "/usr/lib/cni";

let node: Netns;
let pod: Netns;
let lan: Netns;
let state: string;
let fakes: FakePluginDir;
let snap: NodeSnapshot;
let seq = 0;
let cid = "";

before(async () => {
  fakes = await FakePluginDir.create();
});
after(async () => {
  await fakes.remove();
});

beforeEach(async () => {
  node = await createNetns("mt-node");
  pod = await createNetns("mt-pod");
  lan = await createNetns("mt-lan");
  await execInNetns(node.name, ["ip", "link", "set", "lo", "up"]);
  // The macvlan parent: lan0 in the node namespace; its peer is a host on that wire.
  await createVethPair({ ns: node.name, name: "lan0" }, { ns: lan.name, name: "lan-peer" });
  await execInNetns(lan.name, ["ip", "addr", "add", "10.20.0.1/24", "dev", "lan-peer"]);
  state = await mkdtemp(join(tmpdir(), "mt-multus-"));
  cid = `c${String(process.pid)}x${String(++seq)}`;
  snap = await snapshotNode({ nodeNs: node.name });
});

afterEach(async () => {
  for (const ns of [pod, lan, node]) await deleteNetns(ns.name);
  await rm(state, { recursive: true, force: true });
  await fakes.clear();
});

const bridgeNet = (): Record<string, unknown> => ({
  cniVersion: "1.0.0",
  name: "bridge-net",
  type: "bridge",
  bridge: "mt-br0",
  isGateway: true,
  ipam: { type: "host-local", subnet: "10.10.0.0/24", dataDir: join(state, "ipam") },
});
const macvlanNet = (master = "lan0"): Record<string, unknown> => ({
  cniVersion: "1.0.0",
  name: "macvlan-net",
  type: "macvlan",
  master,
  mode: "bridge",
  ipam: { type: "host-local", subnet: "10.20.0.0/24", rangeStart: "10.20.0.100", dataDir: join(state, "ipam") },
});

function multusConf(delegates: unknown[], extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ cniVersion: "1.0.0", name: "multus", type: "multus", cniDir: join(state, "multus"), binDir: fakes.binDir, delegates, ...extra });
}

function cni(command: string, conf: string, opts: { netns?: string; ifName?: string } = {}): Promise<RunResult> {
  return runExecutable("multus", {
    netns: node.name,
    stdin: conf,
    env: {
      CNI_COMMAND: command,
      CNI_CONTAINERID: cid,
      CNI_NETNS: opts.netns ?? pod.path,
      CNI_IFNAME: opts.ifName ?? "eth0",
      CNI_ARGS: "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=p1",
      CNI_PATH: REF,
    },
  });
}

async function residue(): Promise<string[]> {
  const found = await findResidue(snap, { nodeNs: node.name, podNs: pod.name, hostLocalDataDir: join(state, "ipam"), cacheDir: join(state, "multus"), containerId: cid });
  // The bridge plugin never deletes the bridge itself; it goes with the node namespace.
  return found.filter((r) => !r.startsWith("node link mt-br0 "));
}

async function records(): Promise<string[]> {
  try {
    return await readdir(join(state, "multus", "attachments"));
  } catch {
    return [];
  }
}

describe("multus config-file mode with the reference plugins", () => {
  test("CNI-P-08 CNI-P-09 ADD gives eth0 (bridge) and net1 (macvlan) with real addresses; DEL twice leaves nothing", async () => {
    const conf = multusConf([bridgeNet(), macvlanNet()]);
    const add = await cni("ADD", conf);
    assert.equal(add.code, 0, add.stdout + add.stderr);
    const result = stdoutJson(add);
    assert.equal(result["cniVersion"], "1.0.0");
    const ips = result["ips"] as { address: string }[];
    assert.deepEqual(ips.map((i) => i.address), ["10.10.0.2/24"], "the runtime gets the cluster network's result");

    const addrs = await listAddresses(pod.name);
    const v4 = (ifname: string): string[] =>
      (addrs.find((a) => a.ifname === ifname)?.addresses ?? []).filter((i) => i.family === "inet").map((i) => i.cidr);
    assert.deepEqual(v4("eth0"), ["10.10.0.2/24"]);
    assert.deepEqual(v4("net1"), ["10.20.0.100/24"]);
    await execInNetns(pod.name, ["ping", "-c", "1", "-W", "2", "-I", "net1", "10.20.0.1"]);
    await execInNetns(pod.name, ["ping", "-c", "1", "-W", "2", "-I", "eth0", "10.10.0.1"]);
    assert.deepEqual(await records(), [`${cid}.json`]);

    const check = await cni("CHECK", conf);
    assert.equal(check.code, 0, check.stdout);
    assert.equal(check.stdout, "", "CNI-P-10 CHECK prints nothing on success");

    const del1 = await cni("DEL", conf);
    assert.equal(del1.code, 0, del1.stdout);
    const del2 = await cni("DEL", conf, { netns: "" });
    assert.equal(del2.code, 0, `a repeated DEL without netns succeeds: ${del2.stdout}`);
    assert.deepEqual(await residue(), []);
    assert.deepEqual(await records(), []);
  });

  test("masterplugin: the marked delegate is eth0 and ptp/tuning chains run as conflists", async () => {
    const ptp = {
      cniVersion: "1.0.0",
      name: "ptp-net",
      plugins: [
        { type: "ptp", ipam: { type: "host-local", subnet: "10.30.0.0/24", dataDir: join(state, "ipam") } },
        { type: "tuning", sysctl: { "net.ipv4.conf.IFNAME.arp_filter": "1" } },
      ],
    };
    const conf = multusConf([macvlanNet(), { ...ptp, masterplugin: true }]);
    const add = await cni("ADD", conf);
    assert.equal(add.code, 0, add.stdout + add.stderr);
    const names = (await listLinks(pod.name)).map((l) => l.ifname).sort();
    assert.deepEqual(names, ["eth0", "lo", "net1"]);
    const eth0 = (await listAddresses(pod.name)).find((a) => a.ifname === "eth0");
    assert.ok(eth0?.addresses.some((i) => i.cidr === "10.30.0.2/24"), "the ptp conflist is eth0");
    assert.equal((await cni("DEL", conf)).code, 0);
    assert.deepEqual(await residue(), []);
  });

  test("rollback: when the last delegate fails, the earlier ones are deleted and the error names the network", async () => {
    const conf = multusConf([bridgeNet(), { ...macvlanNet(), name: "ok-net" }, { ...macvlanNet("no-such-parent"), name: "broken-net" }]);
    const add = await cni("ADD", conf);
    assert.equal(add.code, 1);
    const err = stdoutJson(add);
    assert.match(String(err["msg"]), /network "broken-net" \(interface net2\)/);
    assert.match(String(err["msg"]), /failed \(add\): Link not found/);
    assert.doesNotMatch(String(err["msg"]), /rollback also failed/, "the failed delegate's own DEL is best-effort");
    assert.deepEqual(await residue(), [], "no link, lease, chain or cache is left after the rollback");
    assert.deepEqual(await records(), []);
    assert.deepEqual((await listLinks(pod.name)).map((l) => l.ifname), ["lo"]);
    // The runtime still sends DEL after a failed ADD: it must succeed.
    assert.equal((await cni("DEL", conf)).code, 0);
  });

  test("CNI-R-17 a delegate that hangs is killed at delegateTimeoutSeconds; the ADD fails naming it and rolls back", async () => {
    await fakes.add({ name: "hang", on: { ADD: { sleepSeconds: 30 } } });
    const conf = multusConf([bridgeNet(), { cniVersion: "1.0.0", name: "slow-net", type: "hang" }], { delegateTimeoutSeconds: 1 });
    const started = Date.now();
    const add = await cni("ADD", conf);
    assert.equal(add.code, 1);
    assert.ok(Date.now() - started < 20_000, "the hang was cut short");
    assert.match(String(stdoutJson(add)["msg"]), /network "slow-net".*hang/);
    assert.deepEqual(await residue(), []);
    assert.deepEqual(await records(), []);
  });

  test("CNI-R-08 a delegate that crashes without output gets libcni's fallback message and rolls back", async () => {
    await fakes.add({ name: "crash", on: { ADD: { exitCode: 2, stderr: "segfault-ish" } } });
    const conf = multusConf([bridgeNet(), { cniVersion: "1.0.0", name: "crash-net", type: "crash" }]);
    const add = await cni("ADD", conf);
    assert.equal(add.code, 1);
    assert.match(String(stdoutJson(add)["msg"]), /network "crash-net".*netplugin failed: "segfault-ish"/);
    assert.deepEqual(await residue(), []);
  });

  test("CNI-R-01 an unknown plugin type fails before anything is left behind", async () => {
    const conf = multusConf([bridgeNet(), { cniVersion: "1.0.0", name: "typo-net", type: "macvlam" }]);
    const add = await cni("ADD", conf);
    assert.equal(add.code, 1);
    assert.match(String(stdoutJson(add)["msg"]), /failed to find plugin "macvlam"/);
    assert.deepEqual(await residue(), []);
  });

  test("CNI-P-11 CNI-P-12 STATUS and GC reach every delegate; GC names each delegate's own interface", async () => {
    await fakes.add({ name: "fa", on: { ADD: { stdout: '{"cniVersion":"1.1.0"}' } } });
    await fakes.add({ name: "fb", on: { ADD: { stdout: '{"cniVersion":"1.1.0"}' }, STATUS: { exitCode: 1, stdout: '{"code":50,"msg":"fb not ready"}' } } });
    const conf = JSON.stringify({
      cniVersion: "1.1.0", name: "multus", type: "multus", cniDir: join(state, "multus"), binDir: fakes.binDir,
      delegates: [{ cniVersion: "1.1.0", name: "a", type: "fa" }, { cniVersion: "1.1.0", name: "b", type: "fb" }],
    });
    assert.equal((await cni("ADD", conf)).code, 0);
    const status = await cni("STATUS", conf);
    assert.equal(status.code, 1);
    assert.equal(stdoutJson(status)["code"], 50, "a delegate's 50 reaches the runtime");
    await fakes.clear();
    const gc = await runExecutable("multus", {
      netns: node.name,
      stdin: JSON.stringify({ ...JSON.parse(conf) as object, "cni.dev/valid-attachments": [{ containerID: cid, ifname: "eth0" }] }),
      env: { CNI_COMMAND: "GC", CNI_PATH: REF },
    });
    assert.equal(gc.code, 0, gc.stdout);
    const calls = (await fakes.invocations()).filter((i) => i.command === "GC");
    assert.deepEqual(calls.map((c) => [c.plugin, c.request()["cni.dev/valid-attachments"]]), [
      ["fa", [{ containerID: cid, ifname: "eth0" }]],
      ["fb", [{ containerID: cid, ifname: "net1" }]],
    ]);
    // A GC that no longer lists the sandbox tears it down and forgets it.
    await fakes.clear();
    const gc2 = await runExecutable("multus", {
      netns: node.name,
      stdin: JSON.stringify({ ...JSON.parse(conf) as object, "cni.dev/valid-attachments": null }),
      env: { CNI_COMMAND: "GC", CNI_PATH: REF },
    });
    assert.equal(gc2.code, 0, gc2.stdout);
    const cmds = (await fakes.invocations()).map((i) => `${i.command} ${i.plugin}`);
    assert.deepEqual(cmds, ["DEL fb", "DEL fa", "GC fa", "GC fb"]);
    assert.deepEqual(await records(), []);
  });

  test("CNI-P-11 STATUS answers for the networks every pod gets: a secondary network's failing plugin (in a journal) does not fail it; the cluster network's or a default network's does", async () => {
    await fakes.add({ name: "fa", on: { ADD: { stdout: '{"cniVersion":"1.1.0"}' } } });
    await fakes.add({ name: "fb", on: { ADD: { stdout: '{"cniVersion":"1.1.0"}' }, STATUS: { exitCode: 1, stdout: '{"code":50,"msg":"fb not ready"}' } } });
    const confDir = join(state, "net.d");
    await mkdir(confDir);
    await writeFile(join(confDir, "10-a.conf"), JSON.stringify({ cniVersion: "1.1.0", name: "a", type: "fa" }));
    await writeFile(join(confDir, "20-b.conf"), JSON.stringify({ cniVersion: "1.1.0", name: "b", type: "fb" }));
    // A sandbox attached to b (a broken secondary network, as one NAD's plugin would be) exists.
    const withB = JSON.stringify({ cniVersion: "1.1.0", name: "multus", type: "multus", cniDir: join(state, "multus"), binDir: fakes.binDir, delegates: [{ cniVersion: "1.1.0", name: "a", type: "fa" }, { cniVersion: "1.1.0", name: "b", type: "fb" }] });
    assert.equal((await cni("ADD", withB)).code, 0);
    const statusConf = (extra: Record<string, unknown>): string =>
      JSON.stringify({ cniVersion: "1.1.0", name: "multus", type: "multus", cniDir: join(state, "multus"), confDir, binDir: fakes.binDir, clusterNetwork: "a", ...extra });
    await fakes.clear();
    const ok = await cni("STATUS", statusConf({}));
    assert.equal(ok.code, 0, ok.stdout);
    assert.deepEqual((await fakes.invocations()).map((i) => `${i.command} ${i.plugin}`), ["STATUS fa"], "only the cluster network is asked; no journal is read");
    const viaDefault = await cni("STATUS", statusConf({ defaultNetworks: ["b"] }));
    assert.equal(viaDefault.code, 1);
    assert.equal(stdoutJson(viaDefault)["code"], 50, "a default network every pod gets is the node's readiness too");
    assert.match(String(stdoutJson(viaDefault)["msg"]), /network "b": fb not ready/);
    const missing = await cni("STATUS", statusConf({ clusterNetwork: "nowhere" }));
    assert.equal(stdoutJson(missing)["code"], 50);
    assert.match(String(stdoutJson(missing)["msg"]), /the cluster network "nowhere" cannot be resolved, so no pod can be set up/);
    // STATUS never opens a journal: a FIFO in its place (reading it would block) changes nothing.
    execFileSync("mkfifo", [join(state, "multus", "attachments", "blocked.json")]);
    const stillOk = await cni("STATUS", statusConf({}));
    assert.equal(stillOk.code, 0, stillOk.stdout);
    await rm(join(state, "multus", "attachments", "blocked.json"));
    assert.equal((await cni("DEL", withB)).code, 0);
  });

  test("NPWG-23 through the executable: ADD waits for the readiness indicator and then attaches; DEL goes on without it; STATUS fails when it never comes", async () => {
    const ready = join(state, "ready");
    const conf = multusConf([bridgeNet()], { readinessindicatorfile: ready, operationTimeoutSeconds: 30 });
    const add = startExecutable("multus", { netns: node.name, stdin: conf, env: { CNI_COMMAND: "ADD", CNI_CONTAINERID: cid, CNI_NETNS: pod.path, CNI_IFNAME: "eth0", CNI_PATH: REF } });
    await new Promise((r) => setTimeout(r, 1500));
    assert.deepEqual((await listLinks(pod.name)).map((l) => l.ifname), ["lo"], "nothing is attached while the cluster network is not ready");
    await writeFile(ready, "");
    const added = await add.done;
    assert.equal(added.code, 0, added.stdout);
    assert.deepEqual((await listLinks(pod.name)).map((l) => l.ifname).sort(), ["eth0", "lo"]);
    await rm(ready);
    const del = await cni("DEL", conf);
    assert.equal(del.code, 0, del.stdout);
    assert.match(del.stderr, /readiness indicator file missing; DEL goes on/);
    assert.deepEqual(await residue(), []);
    const status = await cni("STATUS", JSON.stringify({ ...(JSON.parse(conf) as object), cniVersion: "1.1.0", operationTimeoutSeconds: 2 }));
    assert.equal(status.code, 1);
    assert.equal(stdoutJson(status)["details"], "MULTUS_ERR_NOT_READY");
    assert.match(String(stdoutJson(status)["msg"]), /readiness indicator file .*ready did not appear within 2(\.\d)? s, when the STATUS's 2 s budget \(operationTimeoutSeconds\) ran out/);
  });

  test("CNI-R-17 one budget per ADD: a hanging delegate is killed when the ADD's budget runs out, named with the time it used, and the rollback has its own budget", async () => {
    await fakes.add({ name: "hang", on: { ADD: { sleepSeconds: 60 }, DEL: { sleepSeconds: 60 } } });
    const conf = multusConf([bridgeNet(), { cniVersion: "1.0.0", name: "slow-net", type: "hang" }], { operationTimeoutSeconds: 3, rollbackTimeoutSeconds: 2 });
    const started = Date.now();
    const add = await cni("ADD", conf);
    const took = Date.now() - started;
    assert.equal(add.code, 1);
    const msg = String(stdoutJson(add)["msg"]);
    assert.match(msg, /^network "slow-net" \(interface net1\): plugin type="hang" name="slow-net" failed \(add\): plugin \S+\/hang \(ADD\) used up what was left of the ADD's 3 s budget \(operationTimeoutSeconds\) and was killed \(it ran \d+ ms\)/);
    // The hanging plugin's DEL (its rollback) is cut by the rollback's budget, not by another 120 s.
    assert.ok(took < 3000 + 2000 + 10_000, `the ADD answered within its budgets (${String(took)} ms)`);
    assert.deepEqual((await listLinks(pod.name)).map((l) => l.ifname), ["lo"], "the completed bridge attachment was rolled back");
    await fakes.add({ name: "hang", on: {} });
    assert.equal((await cni("DEL", conf)).code, 0);
    assert.deepEqual(await residue(), []);
  });

  test("a config on stdin over 4 MiB is refused naming the limit, before anything runs", async () => {
    const conf = multusConf([bridgeNet()], { padding: "x".repeat(4 * 1024 * 1024) });
    const add = await cni("ADD", conf);
    assert.equal(add.code, 1);
    assert.equal(stdoutJson(add)["code"], 5);
    assert.match(String(stdoutJson(add)["msg"]), /the network config on stdin is larger than 4 MiB \(4194304 bytes\)/);
    assert.deepEqual((await listLinks(pod.name)).map((l) => l.ifname), ["lo"]);
  });

  test("unknown config keys are warned about once per key and ignored; keys we accept without effect are not warned about", async () => {
    const conf = multusConf([bridgeNet()], { clusterNetwrok: "typo", retryDeleteOnError: true, auxiliaryCNIChainName: "", logLevel: "Error", whatever: 1 });
    const add = await cni("ADD", conf);
    assert.equal(add.code, 0, add.stdout);
    const warnings = add.stderr.split("\n").filter((l) => l.includes("unknown key in the Multus config"));
    assert.deepEqual(warnings.map((l) => (JSON.parse(l) as { field: string }).field), ["clusterNetwrok", "whatever"]);
    assert.equal((await cni("DEL", conf)).code, 0);
    // A key upstream has and Multus-TS cannot honour is refused, through the executable, naming it.
    const aux = await cni("ADD", multusConf([bridgeNet()], { auxiliaryCNIChainName: "vendor-cni-chain" }));
    assert.equal(aux.code, 1);
    assert.equal(stdoutJson(aux)["code"], 7);
    assert.match(String(stdoutJson(aux)["msg"]), /key "auxiliaryCNIChainName" .* is not implemented by Multus-TS/);
    assert.deepEqual((await listLinks(pod.name)).map((l) => l.ifname), ["lo"]);
  });

  test("logFormat text: the executable's stderr lines are upstream's (`<RFC 3339> [verbose] …`), not JSON", async () => {
    const conf = multusConf([bridgeNet()], { logLevel: "Verbose", logFormat: "text", logToStderr: true });
    const add = await cni("ADD", conf);
    assert.equal(add.code, 0, add.stdout);
    const lines = add.stderr.split("\n").filter((l) => l !== "");
    assert.ok(lines.length > 0, "verbose logs something on ADD");
    for (const l of lines) assert.match(l, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \[(debug|verbose|warning|error)\] /, l);
    assert.equal((await cni("DEL", conf)).code, 0);
  });

  test("logFile is rotated like upstream's (logOptions maxSize/maxBackups/compress): old files are gzipped and pruned", async () => {
    const logDir = join(state, "log");
    await mkdir(logDir);
    const logFile = join(logDir, "multus.log");
    // Just under 1 MB of earlier log, so that this call's lines push it over maxSize: 1.
    await writeFile(logFile, "x".repeat(1024 * 1024 - 10) + "\n");
    for (const name of ["multus-2026-01-01T00-00-00.000.log.gz", "multus-2026-01-02T00-00-00.000.log.gz"]) await writeFile(join(logDir, name), "old");
    const conf = multusConf([bridgeNet()], { logFile, logLevel: "debug", logToStderr: false, logOptions: { maxSize: 1, maxBackups: 2, maxAge: 0, compress: true } });
    assert.equal((await cni("ADD", conf)).code, 0);
    const files = (await readdir(logDir)).sort();
    assert.equal(files.length, 3, files.join(" "));
    assert.ok(files.includes("multus.log"));
    assert.ok(files.includes("multus-2026-01-02T00-00-00.000.log.gz"));
    assert.ok(!files.includes("multus-2026-01-01T00-00-00.000.log.gz"), "the oldest backup beyond maxBackups is gone");
    const fresh = files.find((f) => /^multus-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}\.\d{3}\.log\.gz$/.test(f) && !f.startsWith("multus-2026-01-0"));
    assert.ok(fresh !== undefined, `the rotated file is gzipped under lumberjack's name: ${files.join(" ")}`);
    assert.match(await readFile(logFile, "utf8"), /"component":"multus"/);
    // Upstream's default maxAge (5 days) prunes backups by the time in their names at the next rotation.
    await writeFile(logFile, "x".repeat(1024 * 1024 - 10) + "\n");
    assert.equal((await cni("DEL", multusConf([bridgeNet()], { logFile, logLevel: "debug", logToStderr: false, logOptions: { maxSize: 1 } }))).code, 0);
    assert.ok(!(await readdir(logDir)).includes("multus-2026-01-02T00-00-00.000.log.gz"), "older than maxAge: gone");
  });

  test("DEL fails, naming the file, when upstream's record exists but cannot be read; an unparsable one is logged and the plan rebuilt", async () => {
    const conf = multusConf([bridgeNet()]);
    assert.equal((await cni("ADD", conf)).code, 0);
    // Our journal is gone (an operator cleaned up), and upstream's record of the sandbox is a directory.
    await rm(join(state, "multus", "attachments"), { recursive: true });
    await mkdir(join(state, "multus", cid));
    const del = await cni("DEL", conf);
    assert.equal(del.code, 1);
    assert.equal(stdoutJson(del)["code"], 5);
    assert.match(String(stdoutJson(del)["msg"]), new RegExp(`cannot read upstream Multus's record of container ${cid} \\(.*${cid}\\): EISDIR`));
    await rm(join(state, "multus", cid), { recursive: true });
    await writeFile(join(state, "multus", cid), '[{"Conf":{},"Bytes":"trunc');
    const retried = await cni("DEL", conf);
    assert.equal(retried.code, 0, retried.stdout);
    assert.match(retried.stderr, /upstream Multus's record of this sandbox is unreadable: rebuilding the plan/);
    assert.deepEqual(await residue(), []);
  });

  test("CNI-P-13 delegation: the runtime's environment reaches the delegate with only the CNI variables Multus owns changed, and a failed ADD is DELed", async () => {
    await fakes.add({ name: "rec", on: { ADD: { stdout: '{"cniVersion":"1.0.0"}' } } });
    await fakes.add({ name: "failing", on: { ADD: { exitCode: 1, stdout: '{"code":11,"msg":"try later"}' } } });
    const conf = multusConf([{ cniVersion: "1.0.0", name: "r", type: "rec", extra: { nested: [1, 2] } }, { cniVersion: "1.0.0", name: "f", type: "failing" }]);
    const add = await runExecutable("multus", {
      netns: node.name,
      stdin: conf,
      env: {
        CNI_COMMAND: "ADD", CNI_CONTAINERID: cid, CNI_NETNS: pod.path, CNI_IFNAME: "eth0",
        CNI_ARGS: "IgnoreUnknown=1;K8S_POD_NAME=p1", CNI_PATH: REF, RUNTIME_MARKER: "from-the-runtime",
      },
    });
    assert.equal(add.code, 1);
    assert.equal(stdoutJson(add)["code"], 11, "the delegate's code reaches the runtime");
    const calls = await fakes.invocations();
    assert.deepEqual(calls.map((c) => `${c.command} ${c.plugin}`), ["ADD rec", "ADD failing", "DEL failing", "DEL rec"]);
    const first = calls[0];
    assert.ok(first !== undefined);
    assert.equal(first.env["RUNTIME_MARKER"], "from-the-runtime");
    assert.equal(first.env["CNI_CONTAINERID"], cid);
    assert.equal(first.env["CNI_NETNS"], pod.path);
    assert.equal(first.env["CNI_IFNAME"], "eth0");
    assert.equal(first.env["CNI_ARGS"], "IgnoreUnknown=true;K8S_POD_NAME=p1");
    assert.deepEqual(first.request()["extra"], { nested: [1, 2] }, "the full delegate config is passed");
    assert.equal(calls[1]?.env["CNI_IFNAME"], "net1");
  });
});
