// Thick mode's own guarantees, each a known failure of upstream's thick plugin (multus-behavior.md §6):
// DEL with the daemon down still tears everything down (upstream's shim reports success and leaks,
// multus#1146/#1306); kill -9 of the daemon mid-ADD, then DEL, leaves nothing; a daemon restart during
// pod churn never lets a pod start without its secondary networks and never removes the CNI config
// (multus#1527/#1387); a 64-pod burst gets an answer for every call and stays within the memory bound
// (multus#1346); the generated config follows its master (renamed, replaced, a Multus config never
// chosen, our file re-asserted) and, used as is, releases every IP lease on DEL (multus#1449).
// Real: kube-apiserver + etcd, dist/bin/multus-daemon (informers on the API) and dist/bin/multus-shim
// in the bed's node namespace, dist/bin/multus for the shim's local DEL, the reference bridge, macvlan
// and host-local plugins, curl. Wrappers (slow-wrappers.ts) only delay a real plugin when told to.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { lstat, mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from "node:fs/promises";
import { createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { after, afterEach, before, describe, test } from "node:test";
import { applyYaml, createNamespace, useCluster } from "../cluster/harness.ts";
import { postDelegate, socketGet, startDaemon } from "../helpers/daemon.ts";
import { createKubeBed, nadYaml, type KubeBed, type TestPod } from "../helpers/kube-bed.ts";
import { execInNetns } from "../helpers/netns.ts";
import { stdoutJson } from "../helpers/run-executable.ts";
import { createSlowWrappers } from "../helpers/slow-wrappers.ts";
import { upstreamBinary } from "../helpers/upstream-build.ts";

const cluster = useCluster();
const run = promisify(execFile);
let wrappers: string;
let bed: KubeBed | undefined;

before(async () => {
  wrappers = await createSlowWrappers(["w1-bridge", "w2-bridge"]);
});
after(async () => {
  await rm(wrappers, { recursive: true, force: true });
});
afterEach(async () => {
  await bed?.close();
  bed = undefined;
});

async function thickBed(daemonConfig: Record<string, unknown> = {}): Promise<KubeBed> {
  bed = await createKubeBed(cluster, { mode: "thick", clusterConf: { type: "w1-bridge" }, daemonConfig });
  return bed;
}

/** The request config: the bed's, with the wrappers as Multus's binDir (as a generated config would carry it). */
const conf = (b: KubeBed): string => b.conf({ binDir: wrappers });

function bridgeNad(b: KubeBed, ns: string): string {
  return nadYaml(ns, "bridge-net", { cniVersion: "1.0.0", type: "w2-bridge", bridge: "mt-tbr1", ipam: { type: "host-local", subnet: "10.31.0.0/24", dataDir: b.ipamDir } });
}

const exists = (path: string): Promise<boolean> => stat(path).then(() => true, () => false);

async function waitFor(what: string, probe: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

async function leases(b: KubeBed): Promise<string[]> {
  const out: string[] = [];
  for (const net of await readdir(b.ipamDir).catch(() => [])) {
    for (const f of await readdir(join(b.ipamDir, net)).catch(() => [])) if (/^[0-9a-f.:]+$/.test(f)) out.push(`${net}/${f}`);
  }
  return out.sort();
}

async function generated(b: KubeBed): Promise<{ path: string; json: Record<string, unknown>; plugin: Record<string, unknown> } | undefined> {
  const dir = join(b.state, "generated");
  const name = (await readdir(dir)).find((n) => /^00-multus\.conf(list)?$/.test(n));
  if (name === undefined) return undefined;
  const text = await readFile(join(dir, name), "utf8");
  if (text.trim() === "") throw new Error(`${name} is empty`);
  const json = JSON.parse(text) as Record<string, unknown>;
  const plugin = Array.isArray(json["plugins"]) ? (json["plugins"][0] as Record<string, unknown>) : json;
  return { path: join(dir, name), json, plugin };
}

describe("multus-daemon and multus-shim (thick mode)", () => {
  test("the socket is 0600 in a 0700 directory; curl --unix-socket answers /healthz and /readyz; /metrics (socket and metricsPort) shows per-phase and per-plugin figures", async (t) => {
    // The node namespace is the test's own: its loopback port cannot clash with the machine's.
    const b = await thickBed({ metricsPort: 19091, metricsAddress: "127.0.0.1" });
    const ns = await createNamespace(t);
    await applyYaml(bridgeNad(b, ns));
    const sock = join(b.socketDir, "multus.sock");
    assert.equal((await stat(b.socketDir)).mode & 0o777, 0o700);
    assert.equal((await stat(sock)).mode & 0o777, 0o600);
    for (const path of ["/healthz", "/readyz"]) {
      const { stdout } = await run("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--unix-socket", sock, `http://x${path}`]);
      assert.equal(stdout, "200", path);
    }
    const p = await b.createPod(ns, "bridge-net");
    const add = await b.cni("ADD", p, { conf: conf(b) });
    assert.equal(add.code, 0, add.stdout + add.stderr);
    assert.equal((await b.cni("DEL", p, { conf: conf(b) })).code, 0);
    const metrics = (await socketGet(sock, "/metrics")).body;
    for (const phase of ["readiness", "plan", "lock", "delegates", "status"]) {
      assert.match(metrics, new RegExp(`multus_phase_duration_seconds_count\\{command="ADD",phase="${phase}"\\} 1\\b`), `phase ${phase}`);
    }
    assert.match(metrics, /multus_cni_plugin_execution_total\{plugin="w2-bridge",command="ADD",result="success"\} 1\b/);
    assert.match(metrics, /multus_cni_plugin_execution_total\{plugin="w1-bridge",command="DEL",result="success"\} 1\b/);
    assert.match(metrics, /multus_requests_total\{command="ADD",result="success"\} 1\b/);
    assert.match(metrics, /multus_request_duration_seconds_bucket\{le="0.5",command="DEL"\}/);
    assert.match(metrics, /multus_server_request_total\{handler="\/cni",code="200",method="post"\} 2\b/);
    assert.match(metrics, /multus_informer_objects\{informer="network-attachment-definitions"\} [1-9]/);
    assert.match(metrics, /multus_journal_entries 0\b/);
    assert.match(metrics, /process_resident_memory_bytes \d+/);
    const overTcp = await execInNetns(b.node.name, ["curl", "-sf", "http://127.0.0.1:19091/metrics"]);
    assert.match(overTcp.stdout, /multus_requests_total\{command="ADD",result="success"\} 1\b/);
    assert.deepEqual(await b.residue(p), []);
  });

  test("the socket hand-over: a daemon already on multus.sock (upstream's during an upgrade) is taken over at start, not waited for; its exit unlinks the name (as Go does) and the name comes back; a newer daemon taking the socket (a rollback) makes this one not ready, and its stop leaves the newer one's socket", async (t) => {
    // The other daemon is a listener of the test's own, standing in for upstream's Go daemon: it owns
    // the path the way Go does (its close() unlinks the path, whatever file is there by then).
    const b = await thickBed({ metricsPort: 19093, metricsAddress: "127.0.0.1" });
    await b.daemon?.stop("SIGTERM", 10_000);
    const sock = join(b.socketDir, "multus.sock");
    const readyz = async (): Promise<string> => (await execInNetns(b.node.name, ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:19093/readyz"]).catch(() => ({ stdout: "none" }))).stdout;
    const open = new Set<Socket>();
    const other = (): { server: Server; connections: () => number } => {
      let n = 0;
      const server = createServer((c) => {
        n += 1;
        open.add(c);
        c.on("close", () => open.delete(c));
        c.on("error", () => undefined); // a probe that connects and hangs up at once
        c.end("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
      });
      return { server, connections: () => n };
    };
    const listen = (server: Server): Promise<void> => new Promise((resolve) => server.listen(sock, resolve));
    // The listener goes (unlinking its path, as Go's does) and its connections with it.
    const close = (server: Server): Promise<void> =>
      new Promise((resolve) => {
        server.close(() => { resolve(); });
        for (const c of open) c.destroy();
      });

    // What a daemon killed with -9 leaves: an anchor nobody listens on, a temporary name of a publish.
    const dead = createServer();
    await new Promise<void>((resolve) => dead.listen(join(b.socketDir, "x.sock"), resolve));
    // (A PID above any pid_max: no process has it.)
    await rename(join(b.socketDir, "x.sock"), join(b.socketDir, ".mtsd-99999999-0badf0"));
    await close(dead);
    await writeFile(join(b.socketDir, "multus.sock.0badf00d.tmp"), "");
    await utimes(join(b.socketDir, "multus.sock.0badf00d.tmp"), new Date(Date.now() - 120_000), new Date(Date.now() - 120_000));

    const upstream = other();
    await listen(upstream.server);
    t.after(() => close(upstream.server).catch(() => undefined));
    // Ready at once (startDaemon waits for /readyz 200 over the socket path), not after upstream goes.
    const ours = await b.startDaemon();
    assert.match(await ours.log(), /another multus-daemon listens on the socket .*taking the socket over/);
    const before = upstream.connections();
    assert.equal((await socketGet(sock, "/readyz")).status, 200, "new clients reach this daemon");
    assert.equal(upstream.connections(), before, "and none reaches the old one");
    assert.equal((await stat(sock)).mode & 0o777, 0o600);
    const names = await readdir(b.socketDir);
    assert.ok(!names.includes(".mtsd-99999999-0badf0") && !names.includes("multus.sock.0badf00d.tmp"), `a killed daemon's names are swept at start: ${names.join(", ")}`);

    // Upstream's DaemonSet deleted: its close unlinks multus.sock, this daemon's by now.
    await close(upstream.server);
    await waitFor("the socket's name published again", () => socketGet(sock, "/readyz").then((r) => r.status === 200, () => false), 10_000);
    assert.match(await ours.log(), /the socket's name was removed .*published again/);
    assert.equal(await readyz(), "200");
    const p = await b.createPod(await createNamespace(t), undefined);
    assert.equal((await b.cni("ADD", p, { conf: conf(b) })).code, 0, "the shim reaches the daemon by the name published again");
    assert.equal((await b.cni("DEL", p, { conf: conf(b) })).code, 0);

    // A rollback: upstream's daemon starts again, empties the directory and listens.
    const newer = other();
    await rm(sock, { force: true });
    await listen(newer.server);
    t.after(() => close(newer.server).catch(() => undefined));
    await waitFor("this daemon not ready", async () => (await readyz()) === "500", 10_000);
    assert.match(await ours.log(), /another daemon took over the socket: this one is not ready/);
    await ours.stop("SIGTERM", 10_000);
    assert.ok((await lstat(sock)).isSocket(), "the newer daemon's socket is still there");
    const seen = newer.connections();
    await socketGet(sock, "/readyz").catch(() => undefined);
    assert.equal(newer.connections(), seen + 1, "and it still reaches the newer daemon");
    assert.deepEqual((await readdir(b.socketDir)).filter((f) => f !== "multus.sock"), [], "no anchor or temporary name left behind");

    // Upstream's daemon restarting while ours runs empties the directory (os.RemoveAll) and listens;
    // when it then goes, nobody serves the socket and ours has lost its own name for it: /healthz
    // turns 500, so that the kubelet restarts it (and it claims the socket afresh).
    const again = await b.startDaemon();
    const healthz = async (): Promise<string> => (await execInNetns(b.node.name, ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:19093/healthz"]).catch(() => ({ stdout: "none" }))).stdout;
    const restarted = other();
    for (const f of await readdir(b.socketDir)) await rm(join(b.socketDir, f), { force: true });
    await listen(restarted.server);
    await waitFor("this daemon not ready", async () => (await readyz()) === "500", 10_000);
    assert.equal(await healthz(), "200", "yielding to a live daemon is healthy");
    await close(restarted.server);
    await waitFor("/healthz 500", async () => (await healthz()) === "500", 10_000);
    assert.match(await again.log(), /no daemon serves the socket, and this one's own name for it was removed/);
    await again.stop("SIGTERM", 10_000);
  });

  test("the daemon checks its config's Multus keys at start: a bad one keeps /readyz at 500 with the key named; logLevel in any case is accepted, an unknown one only warned about (upstream tolerates both)", async (t) => {
    const b = await thickBed({ logLevel: "Debug" });
    assert.match(await b.daemon?.log() ?? "", /"level":"debug"/, "logLevel \"Debug\" is debug, as upstream reads it");
    await b.daemon?.stop("SIGTERM", 10_000);
    const sock = join(b.socketDir, "multus.sock");
    const base = { socketDir: b.socketDir, cniConfigDir: join(b.state, "generated"), multusAutoconfigDir: b.confDir, cniVersion: "1.0.0", kubeconfig: b.kubeconfig, cniDir: b.cniDir, confDir: b.confDir };
    const status = async (path: string): Promise<number> => (await socketGet(sock, path).catch(() => ({ status: 0 }))).status;

    const bad = await startDaemon({ netns: b.node.name, dir: b.state, nodeName: "mt-node", waitReady: false, config: { ...base, namespaceIsolation: "yes" } });
    t.after(() => bad.stop("SIGTERM", 10_000));
    await waitFor("the bad daemon's socket", async () => (await status("/healthz")) === 200);
    await sleep(1_500);
    assert.equal(await status("/readyz"), 500, "never ready with a config every request would fail on");
    assert.match(await bad.log(), /the daemon config is invalid: \/readyz stays 500.*key \\"namespaceIsolation\\"/);
    await bad.stop("SIGTERM", 10_000);

    const warned = await startDaemon({ netns: b.node.name, dir: b.state, nodeName: "mt-node", config: { ...base, logLevel: "info" } });
    t.after(() => warned.stop("SIGTERM", 10_000));
    assert.equal(await status("/readyz"), 200, "an unknown logLevel does not stop the daemon");
    assert.match(await warned.log(), /\\"info\\" is not a level Multus knows \(debug, verbose, error, panic; any case\): the default applies/);
  });

  test("the ADD path reads the pod and its NADs from the informer caches (no API read once synced); with a stale cache it reads the API, and still succeeds", async (t) => {
    const metricOf = async (b: KubeBed, pattern: RegExp): Promise<number> => Number(pattern.exec((await socketGet(join(b.socketDir, "multus.sock"), "/metrics")).body)?.[1] ?? "0");
    const live = /multus_api_live_reads_total\{kind="(?:pod|nad)",reason="\w+"\} (\d+)/g;
    const liveReads = async (b: KubeBed): Promise<number> => {
      const text = (await socketGet(join(b.socketDir, "multus.sock"), "/metrics")).body;
      return [...text.matchAll(live)].reduce((sum, m) => sum + Number(m[1]), 0);
    };
    {
      const b = await thickBed();
      const ns = await createNamespace(t);
      await applyYaml(bridgeNad(b, ns));
      const p = await b.createPod(ns, "bridge-net");
      await waitFor("the caches to hold the pod and the NAD", async () =>
        (await metricOf(b, /multus_informer_objects\{informer="pods"\} (\d+)/)) >= 1 && (await metricOf(b, /multus_informer_objects\{informer="network-attachment-definitions"\} (\d+)/)) >= 1);
      assert.equal((await b.cni("ADD", p, { conf: conf(b) })).code, 0);
      assert.equal(await liveReads(b), 0, "no read went to the API");
      assert.equal((await b.cni("DEL", p, { conf: conf(b) })).code, 0);
      assert.deepEqual(await b.residue(p), []);
      await b.close();
      bed = undefined;
    }
    // A watchdog of 1 s: without an event or bookmark for that long, the caches count as stale.
    const b = await thickBed({ informerStaleSeconds: 1 });
    const ns = await createNamespace(t);
    await applyYaml(bridgeNad(b, ns));
    const p = await b.createPod(ns, "bridge-net");
    await sleep(2500);
    const add = await b.cni("ADD", p, { conf: conf(b) });
    assert.equal(add.code, 0, add.stdout + add.stderr);
    assert.ok((await liveReads(b)) >= 1, "the stale caches were not trusted");
    assert.deepEqual([...(await b.podInterfaces(p)).keys()].sort(), ["eth0", "net1"]);
    assert.equal((await b.cni("DEL", p, { conf: conf(b) })).code, 0);
    assert.deepEqual(await b.residue(p), []);
  });

  test("CNI-R-12 STATUS and GC through the shim: STATUS answers, GC tears down the sandbox the runtime no longer lists and keeps the other", async (t) => {
    const b = await thickBed();
    const ns = await createNamespace(t);
    await applyYaml(bridgeNad(b, ns));
    const keep = await b.createPod(ns, "bridge-net", "keep");
    const gone = await b.createPod(ns, "bridge-net", "gone");
    for (const p of [keep, gone]) assert.equal((await b.cni("ADD", p, { conf: conf(b) })).code, 0);
    const v11 = (extra: Record<string, unknown> = {}): string => JSON.stringify({ ...(JSON.parse(conf(b)) as Record<string, unknown>), cniVersion: "1.1.0", ...extra });
    const status = await b.cni("STATUS", keep, { conf: v11() });
    assert.equal(status.code, 0, status.stdout + status.stderr);
    const gc = await b.cni("GC", keep, { conf: v11({ "cni.dev/valid-attachments": [{ containerID: keep.containerId, ifname: "eth0" }] }) });
    assert.equal(gc.code, 0, gc.stdout + gc.stderr);
    assert.deepEqual([...(await b.podInterfaces(gone)).keys()], [], "the unlisted sandbox is torn down");
    assert.deepEqual([...(await b.podInterfaces(keep)).keys()].sort(), ["eth0", "net1"], "the listed one keeps everything");
    assert.equal((await b.cni("DEL", keep, { conf: conf(b) })).code, 0);
    assert.equal((await b.cni("DEL", gone, { conf: conf(b) })).code, 0);
    assert.deepEqual(await leases(b), []);
    for (const p of [keep, gone]) assert.deepEqual(await b.residue(p), []);
  });

  test("DEL with the daemon stopped is done on the host from the journal: links, leases, journal and lock all go", async (t) => {
    const b = await thickBed();
    const ns = await createNamespace(t);
    await applyYaml(bridgeNad(b, ns));
    const p = await b.createPod(ns, "bridge-net");
    const add = await b.cni("ADD", p, { conf: conf(b) });
    assert.equal(add.code, 0, add.stdout + add.stderr);
    assert.equal((await leases(b)).length, 2, "a lease on the cluster network and on bridge-net");
    const stopped = await b.daemon?.stop("SIGTERM");
    assert.equal(stopped?.code, 0, "the daemon exits 0 on SIGTERM");
    const del = await b.cni("DEL", p, { conf: conf(b) });
    assert.equal(del.code, 0, del.stdout + del.stderr);
    assert.match(del.stderr, /multus-daemon unreachable at .*multus\.sock .*DEL runs locally/);
    assert.deepEqual(await leases(b), [], "every IP lease released");
    assert.deepEqual([...(await b.podInterfaces(p)).keys()], []);
    const again = await b.cni("DEL", p, { conf: conf(b), netnsPath: "" });
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.deepEqual(await b.residue(p), []);
  });

  for (const after of ["the daemon stays down", "the daemon is back"] as const) {
    test(`kill -9 of the daemon while a delegate ADDs, then DEL (${after}): nothing is left`, async (t) => {
      const b = await thickBed();
      const ns = await createNamespace(t);
      await applyYaml(bridgeNad(b, ns));
      const p = await b.createPod(ns, "bridge-net");
      const marks = join(b.state, "marks");
      await mkdir(marks);
      // The secondary's bridge plugin has acted and sleeps before reporting back: the daemon dies then.
      const add = b.startCni("ADD", p, { conf: conf(b), env: { MT_SLOW_AT: "w2:after", MT_SLEEP: "2", MT_MARKS: marks } });
      await waitFor("the secondary's delegate", () => exists(join(marks, `${p.containerId}.w2-bridge.started`)));
      const daemon = b.daemon;
      assert.ok(daemon !== undefined);
      process.kill(daemon.pid, "SIGKILL");
      await daemon.exited;
      const failed = await add.done;
      assert.equal(failed.code, 1, "the runtime is told the ADD failed");
      t.diagnostic(String(stdoutJson(failed)["msg"]));
      if (after === "the daemon is back") await b.startDaemon();
      // Right away: the orphaned delegate still runs and holds the sandbox lock it inherited.
      const del = await b.cni("DEL", p, { conf: conf(b), env: { MT_SLEEP: "0" } });
      assert.equal(del.code, 0, del.stdout + del.stderr);
      assert.equal(await exists(join(marks, `${p.containerId}.w2-bridge.finished`)), true, "the DEL waited for the orphaned delegate");
      assert.equal((await b.cni("DEL", p, { conf: conf(b), netnsPath: "" })).code, 0);
      assert.deepEqual(await leases(b), []);
      assert.deepEqual(await b.residue(p), []);
    });
  }

  test("a daemon restart during pod churn: every ADD gets all its networks or fails, the CNI config is never missing or empty, nothing is left", async (t) => {
    const b = await thickBed();
    const ns = await createNamespace(t);
    await applyYaml(bridgeNad(b, ns));
    const pods: TestPod[] = [];
    for (let i = 0; i < 12; i++) pods.push(await b.createPod(ns, "bridge-net", `churn-${String(i)}`));
    const before = await generated(b);
    assert.ok(before !== undefined);
    const watching = { on: true };
    const configProblems: string[] = [];
    const watcher = (async () => {
      while (watching.on) {
        const g = await generated(b).catch((err: unknown) => {
          configProblems.push((err as Error).message);
          return undefined;
        });
        if (g === undefined) configProblems.push("no 00-multus config");
        await sleep(5);
      }
    })();
    const restarts = (async () => {
      for (let i = 0; i < 2; i++) {
        await sleep(400);
        await b.daemon?.stop("SIGTERM");
        await sleep(300);
        await b.startDaemon();
      }
    })();
    const outcomes = await Promise.all(
      pods.map(async (p, i) => {
        await sleep(i * 120);
        const add = await b.cni("ADD", p, { conf: conf(b) });
        if (add.code !== 0) return { p, ok: false, msg: String(stdoutJson(add)["msg"]) };
        const ifaces = [...(await b.podInterfaces(p)).keys()].sort();
        return { p, ok: true, ifaces };
      }),
    );
    await restarts;
    watching.on = false;
    await watcher;
    assert.deepEqual(configProblems, [], "the CNI config stays in place and whole across restarts");
    const failed = outcomes.filter((o) => !o.ok);
    t.diagnostic(`${String(outcomes.length - failed.length)} of ${String(outcomes.length)} ADDs succeeded across 2 restarts; failures: ${failed.map((f) => f.msg).join(" | ")}`);
    for (const o of outcomes) if (o.ok) assert.deepEqual(o.ifaces, ["eth0", "net1"], `pod ${o.p.name} has its secondary network`);
    // The shim waits for the next daemon instead of failing: a restart costs latency, not pods.
    assert.equal(failed.length, 0);
    for (const p of pods) assert.equal((await b.cni("DEL", p, { conf: conf(b) })).code, 0);
    assert.deepEqual(await leases(b), []);
    for (const p of pods) assert.deepEqual(await b.residue(p), []);
    assert.deepEqual((await generated(b))?.json, before.json, "the same config after the restarts");
  });

  test("a burst of 64 concurrent ADDs: every call is answered (success, or error 11 beyond connectionLimit + queueLimit), none hangs, the daemon stays under 160 MiB", async (t) => {
    const b = await thickBed({ connectionLimit: 4, queueLimit: 24 });
    const ns = await createNamespace(t);
    await applyYaml(bridgeNad(b, ns));
    const pods: TestPod[] = [];
    for (let i = 0; i < 64; i++) pods.push(await b.createPod(ns, "bridge-net", `burst-${String(i)}`));
    const marks = join(b.state, "marks");
    await mkdir(marks);
    // Each ADD takes a second (the secondary's plugin sleeps after acting), so the burst really piles up.
    const slow = { MT_SLOW_AT: "w2:after", MT_SLEEP: "1", MT_MARKS: marks };
    const started = Date.now();
    const results = await Promise.all(pods.map((p) => b.cni("ADD", p, { conf: conf(b), env: slow, timeoutMs: 90_000 })));
    const seconds = (Date.now() - started) / 1000;
    const codes = results.map((r) => (r.code === 0 ? 0 : Number(stdoutJson(r)["code"])));
    const ok = codes.filter((c) => c === 0).length;
    const refused = codes.filter((c) => c === 11).length;
    t.diagnostic(`64 ADDs in ${seconds.toFixed(1)} s: ${String(ok)} succeeded, ${String(refused)} refused with 11`);
    assert.equal(ok + refused, 64, `only successes and "try again later": ${JSON.stringify(results.filter((r) => r.code !== 0 && Number(stdoutJson(r)["code"]) !== 11).map((r) => r.stdout))}`);
    assert.ok(ok >= 4 + 24, "at least every admitted request succeeds");
    assert.ok(refused > 0, "beyond the queue the daemon refuses instead of piling up");
    const daemon = b.daemon;
    assert.ok(daemon !== undefined);
    const hwm = /VmHWM:\s+(\d+) kB/.exec(await readFile(`/proc/${String(daemon.pid)}/status`, "utf8"))?.[1];
    t.diagnostic(`daemon peak RSS ${String(Math.round(Number(hwm) / 1024))} MiB`);
    assert.ok(Number(hwm) < 160 * 1024, `peak RSS ${String(hwm)} kB`);
    // The runtime DELs every sandbox, also those whose ADD was refused.
    const dels = await Promise.all(pods.map((p) => b.cni("DEL", p, { conf: conf(b), timeoutMs: 90_000 })));
    const delCodes = dels.map((r) => (r.code === 0 ? 0 : Number(stdoutJson(r)["code"])));
    // A refused DEL is retried by the runtime; do what it does.
    for (const [i, c] of delCodes.entries()) {
      const p = pods[i];
      if (c !== 0 && p !== undefined) assert.equal((await b.cni("DEL", p, { conf: conf(b) })).code, 0);
    }
    assert.deepEqual(await leases(b), []);
    for (const p of pods) assert.deepEqual(await b.residue(p), []);
  });

  test("the generated config: master's path as clusterNetwork, union of capabilities, follows a renamed or replaced master, never a Multus config, re-asserted when removed or renamed, kept through SIGTERM", async () => {
    const b = await thickBed({ binDir: wrappers, capabilities: { "io.kubernetes.cri.pod-annotations": true } });
    const confDir = b.confDir;
    const first = await generated(b);
    assert.ok(first !== undefined);
    assert.equal(first.path.endsWith("00-multus.conflist"), true, "a conflist for cniVersion 1.0.0");
    assert.equal(first.plugin["type"], "multus-shim");
    assert.equal(first.plugin["clusterNetwork"], join(confDir, "10-cluster.conf"));
    assert.equal(first.plugin["daemonSocketDir"], b.socketDir);
    assert.deepEqual(first.plugin["capabilities"], { "io.kubernetes.cri.pod-annotations": true });
    const until = (what: string, ok: (g: NonNullable<Awaited<ReturnType<typeof generated>>>) => boolean): Promise<void> =>
      waitFor(what, async () => {
        const g = await generated(b);
        return g !== undefined && ok(g);
      }, 10_000);

    await rename(join(confDir, "10-cluster.conf"), join(confDir, "15-cluster.conf"));
    await until("the renamed master", (g) => g.plugin["clusterNetwork"] === join(confDir, "15-cluster.conf"));

    // A Multus config under another name is never the master (multus#1108).
    await writeFile(join(confDir, "01-old-multus.conf"), JSON.stringify({ cniVersion: "1.0.0", name: "m", type: "multus", clusterNetwork: "x" }));
    // A primary CNI that writes its file in two steps: not JSON yet, so not chosen yet.
    await writeFile(join(confDir, "05-primary.conflist"), '{"cniVersion": "1.0.0", "name": "primary", "plugins": [');
    await sleep(2500);
    assert.equal((await generated(b))?.plugin["clusterNetwork"], join(confDir, "15-cluster.conf"));
    await writeFile(
      join(confDir, "05-primary.conflist"),
      JSON.stringify({ cniVersion: "1.0.0", name: "primary", plugins: [{ type: "bridge", bridge: "mt-p0", ipam: { type: "host-local", subnet: "10.77.0.0/24" } }, { type: "portmap", capabilities: { portMappings: true } }] }),
    );
    await until("the new master", (g) => g.plugin["clusterNetwork"] === join(confDir, "05-primary.conflist"));
    assert.deepEqual((await generated(b))?.plugin["capabilities"], { "io.kubernetes.cri.pod-annotations": true, portMappings: true });

    // Cilium renames foreign configs; deleting ours is no better.
    const current = await generated(b);
    assert.ok(current !== undefined);
    await rename(current.path, `${current.path}.cilium_bak`);
    await until("our config back after a rename", (g) => g.path === current.path);
    await rm(current.path);
    await until("our config back after a delete", (g) => g.path === current.path);
    assert.deepEqual((await generated(b))?.json, current.json);

    const kept = await readFile(current.path, "utf8");
    assert.equal((await b.daemon?.stop("SIGTERM"))?.code, 0);
    assert.equal(await readFile(current.path, "utf8"), kept, "SIGTERM leaves the config exactly as it was");
  });

  test("with the config the daemon generates (cluster network = the master's path), DEL releases every IP lease and leaves nothing (upstream v4.3.0 leaks the cluster network's, multus#1449)", async (t) => {
    const b = await thickBed({ binDir: wrappers });
    const ns = await createNamespace(t);
    await applyYaml(bridgeNad(b, ns));
    const g = await generated(b);
    assert.ok(g !== undefined);
    // What the runtime sends for a conflist: the plugin's keys plus the list's name and cniVersion.
    const conf = JSON.stringify({ ...g.plugin, name: g.json["name"], cniVersion: g.json["cniVersion"] });
    const pods = [await b.createPod(ns, "bridge-net", "a"), await b.createPod(ns, "bridge-net,bridge-net", "b")];
    for (const p of pods) {
      const add = await b.cni("ADD", p, { conf });
      assert.equal(add.code, 0, add.stdout + add.stderr);
    }
    assert.equal((await leases(b)).length, 5);
    for (const p of pods) assert.equal((await b.cni("DEL", p, { conf })).code, 0);
    assert.deepEqual(await leases(b), [], "the cluster network's leases are released too");
    for (const p of pods) assert.deepEqual(await b.residue(p), []);
  });
});

describe("hot-plug through /delegate (multus-dynamic-networks-controller's call)", () => {
  test("ADD attaches one more network to a running pod with the requested address; DEL detaches it; the pod's DEL would have torn it down too", async (t) => {
    const b = await thickBed();
    const ns = await createNamespace(t);
    await applyYaml(bridgeNad(b, ns));
    const p = await b.createPod(ns, "bridge-net");
    assert.equal((await b.cni("ADD", p, { conf: conf(b) })).code, 0);
    const sock = join(b.socketDir, "multus.sock");
    const macvlan = { cniVersion: "1.0.0", name: "hot-net", plugins: [{ type: "macvlan", master: "lan0", mode: "bridge", capabilities: { ips: true }, ipam: { type: "static" } }] };
    const env = (command: string): Record<string, string> => ({
      CNI_COMMAND: command, CNI_CONTAINERID: p.containerId, CNI_NETNS: p.netns.path, CNI_IFNAME: "net2", CNI_PATH: "/usr/lib/cni",
      CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=${p.namespace};K8S_POD_NAME=${p.name};K8S_POD_INFRA_CONTAINER_ID=${p.containerId};K8S_POD_UID=${p.uid}`,
    });
    const config = Buffer.from(JSON.stringify(macvlan)).toString("base64");
    const add = await postDelegate(sock, { env: env("ADD"), config, interfaceAttributes: { ips: ["10.20.0.55/24"] } });
    assert.equal(add.status, 200, add.body);
    const result = (JSON.parse(add.body) as { Result: { cniVersion: string; ips: { address: string }[] } }).Result;
    assert.equal(result.cniVersion, "1.0.0");
    assert.deepEqual(result.ips.map((i) => i.address), ["10.20.0.55/24"]);
    assert.deepEqual((await b.podInterfaces(p)).get("net2")?.ips, ["10.20.0.55"]);
    const again = await postDelegate(sock, { env: env("ADD"), config, interfaceAttributes: { ips: ["10.20.0.56/24"] } });
    assert.equal(again.status, 400);
    assert.match((JSON.parse(again.body) as { msg: string }).msg, /already has interface net2/);

    const del = await postDelegate(sock, { env: env("DEL"), config });
    assert.equal(del.status, 200, del.body);
    assert.deepEqual([...(await b.podInterfaces(p)).keys()].sort(), ["eth0", "net1"]);

    // Plugged again, then the pod goes: its DEL tears the hot-plugged attachment down too.
    assert.equal((await postDelegate(sock, { env: env("ADD"), config, interfaceAttributes: { ips: ["10.20.0.57/24"] } })).status, 200);
    assert.equal((await b.cni("DEL", p, { conf: conf(b) })).code, 0);
    assert.deepEqual([...(await b.podInterfaces(p)).keys()], []);
    assert.deepEqual(await leases(b), []);
    assert.deepEqual(await b.residue(p), []);

    const unknown = await postDelegate(sock, { env: env("ADD"), config });
    assert.equal(unknown.status, 400);
    assert.match((JSON.parse(unknown.body) as { msg: string }).msg, /has no attachments recorded by Multus/);
  });
});

describe("hot-plug requests no plugin applies", () => {
  test("NPWG-09 a hot-plugged mac that no plugin applies (ptp reads no MAC=) is refused naming the capability, and the attachment is rolled back", async (t) => {
    const b = await thickBed();
    const ns = await createNamespace(t);
    await applyYaml(bridgeNad(b, ns));
    const p = await b.createPod(ns, "bridge-net");
    assert.equal((await b.cni("ADD", p, { conf: conf(b) })).code, 0);
    const ptp = { cniVersion: "1.0.0", name: "plain-ptp", type: "ptp", ipam: { type: "host-local", subnet: "10.33.0.0/24", dataDir: b.ipamDir } };
    const r = await postDelegate(join(b.socketDir, "multus.sock"), {
      env: {
        CNI_COMMAND: "ADD", CNI_CONTAINERID: p.containerId, CNI_NETNS: p.netns.path, CNI_IFNAME: "net2", CNI_PATH: "/usr/lib/cni",
        CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=${p.namespace};K8S_POD_NAME=${p.name};K8S_POD_INFRA_CONTAINER_ID=${p.containerId};K8S_POD_UID=${p.uid}`,
      },
      config: Buffer.from(JSON.stringify(ptp)).toString("base64"),
      interfaceAttributes: { mac: "02:00:00:00:33:01" },
    });
    assert.equal(r.status, 400, r.body);
    const err = JSON.parse(r.body) as { msg: string; details?: string };
    assert.equal(err.details, "MULTUS_ERR_CAPABILITY_MISSING");
    assert.match(err.msg, /the result lacks the requested MAC 02:00:00:00:33:01/);
    assert.deepEqual([...(await b.podInterfaces(p)).keys()].sort(), ["eth0", "net1"], "the hot-plugged interface went again");
    assert.equal((await b.cni("DEL", p, { conf: conf(b) })).code, 0);
    assert.deepEqual(await leases(b), [], "the rolled-back attachment's lease was released");
    assert.deepEqual(await b.residue(p), []);
  });
});

describe("wire compatibility with upstream Multus v4.3.0", () => {
  test("upstream's Go multus-shim against multus-daemon: ADD prints the result in the config's version, DEL tears everything down", async (t) => {
    const shim = upstreamBinary("multus-shim");
    const b = await thickBed();
    const ns = await createNamespace(t);
    await applyYaml(bridgeNad(b, ns));
    const p = await b.createPod(ns, "bridge-net");
    const add = await b.cni("ADD", p, { conf: conf(b), executable: shim });
    assert.equal(add.code, 0, add.stdout + add.stderr);
    const result = stdoutJson(add);
    assert.equal(result["cniVersion"], "1.0.0");
    assert.deepEqual([...(await b.podInterfaces(p)).keys()].sort(), ["eth0", "net1"]);
    assert.equal((await b.networkStatus(p)).length, 2);
    const del = await b.cni("DEL", p, { conf: conf(b), executable: shim });
    assert.equal(del.code, 0, del.stdout + del.stderr);
    assert.deepEqual(await leases(b), []);
    assert.deepEqual(await b.residue(p), []);
  });
});
