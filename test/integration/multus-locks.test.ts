// Exclusion between separate multus processes (thin mode is one process per CNI call, and the runtime
// does not serialise GC against ADD/DEL): operations on one sandbox never overlap (CNI-R-16, NPWG-26),
// operations on different sandboxes do, and GC never runs while an ADD or DEL is in flight (CNI-R-12).
// Real: separate dist/bin/multus processes in a throw-away node namespace, the reference bridge and
// host-local plugins; the second delegate is reached through a wrapper (test/helpers/slow-wrappers.ts)
// that sleeps before the real plugin, so an operation is reliably in flight while another starts.
// Config-file mode (no API needed).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { after, afterEach, before, beforeEach, describe, test } from "node:test";
import { createNetns, deleteNetns, listLinks, run, settledResidue, snapshotNode, type Netns, type NodeSnapshot } from "../helpers/netns.ts";
import { startExecutable, type RunResult } from "../helpers/run-executable.ts";
import { createSlowWrappers } from "../helpers/slow-wrappers.ts";

const REF = "/usr/lib/cni";

let wrappers: string;
let node: Netns;
let state: string;
let marks: string;
let snap: NodeSnapshot;
const pods: Netns[] = [];
let seq = 0;

before(async () => {
  wrappers = await createSlowWrappers(["w1-bridge", "w2-bridge"]);
});
after(async () => {
  await rm(wrappers, { recursive: true, force: true });
});

beforeEach(async () => {
  node = await createNetns("mt-lnode");
  state = await mkdtemp(join(tmpdir(), "mt-locks-"));
  marks = join(state, "marks");
  await mkdir(marks);
  snap = await snapshotNode({ nodeNs: node.name });
});

afterEach(async () => {
  for (const p of pods.splice(0)) await deleteNetns(p.name);
  await deleteNetns(node.name);
  await rm(state, { recursive: true, force: true });
});

interface Sandbox {
  id: string;
  netns: Netns;
}

async function sandbox(): Promise<Sandbox> {
  const netns = await createNetns("mt-lpod");
  pods.push(netns);
  return { id: `l${String(process.pid)}x${String(++seq)}`, netns };
}

function conf(): string {
  const ipam = (subnet: string): Record<string, unknown> => ({ type: "host-local", subnet, dataDir: join(state, "ipam") });
  return JSON.stringify({
    cniVersion: "1.1.0", name: "multus", type: "multus", cniDir: join(state, "multus"), binDir: wrappers, logLevel: "verbose",
    delegates: [
      { cniVersion: "1.0.0", name: "first", type: "w1-bridge", bridge: "mt-lbr1", ipam: ipam("10.61.0.0/24") },
      { cniVersion: "1.0.0", name: "second", type: "w2-bridge", bridge: "mt-lbr2", ipam: ipam("10.62.0.0/24") },
    ],
  });
}

interface Run {
  done: Promise<RunResult & { exitedAt: number }>;
}

function start(command: string, s: Sandbox | undefined, opts: { slow?: boolean; stdin?: string; slowAt?: string } = {}): Run {
  const r = startExecutable("multus", {
    netns: node.name,
    stdin: opts.stdin ?? conf(),
    timeoutMs: 60_000,
    env: {
      CNI_COMMAND: command, CNI_CONTAINERID: s?.id ?? "", CNI_NETNS: s?.netns.path ?? "", CNI_IFNAME: s === undefined ? "" : "eth0", CNI_PATH: REF,
      CNI_ARGS: "IgnoreUnknown=1", MT_MARKS: marks, MT_SLEEP: "1.5", ...(opts.slow === true ? { MT_SLOW_AT: opts.slowAt ?? "w2:before" } : {}),
    },
  });
  return { done: r.done.then((res) => ({ ...res, exitedAt: Date.now() })) };
}

const exists = (path: string): Promise<boolean> => stat(path).then(() => true, () => false);

async function waitFor(what: string, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

const started = (s: Sandbox): Promise<boolean> => exists(join(marks, `${s.id}.w2-bridge.started`));
const finished = (s: Sandbox): Promise<boolean> => exists(join(marks, `${s.id}.w2-bridge.finished`));

async function interfaces(s: Sandbox): Promise<string[]> {
  return (await listLinks(s.netns.name)).map((l) => l.ifname).filter((n) => n !== "lo").sort();
}

async function leftovers(): Promise<string[]> {
  const found = await settledResidue(snap, { nodeNs: node.name, hostLocalDataDir: join(state, "ipam"), cacheDir: join(state, "multus") }, { ignore: (r) => /^node link mt-lbr\d \(bridge\)$/.test(r) });
  const journals = await readdir(join(state, "multus", "attachments")).catch(() => []);
  return [...found, ...journals.map((j) => `journal ${j}`)];
}

describe("locks between separate multus processes", () => {
  test("CNI-R-16 NPWG-26 a DEL of a sandbox whose ADD is in flight waits for it, then tears down everything it made", async () => {
    const a = await sandbox();
    const add = start("ADD", a, { slow: true });
    await waitFor("the ADD's second delegate to be running", () => started(a));
    const del = start("DEL", a);
    const [added, deleted] = await Promise.all([add.done, del.done]);
    assert.equal(added.code, 0, added.stdout + added.stderr);
    assert.equal(deleted.code, 0, deleted.stdout + deleted.stderr);
    assert.ok(deleted.exitedAt >= added.exitedAt, "the DEL ended after the ADD it waited for");
    assert.match(deleted.stderr, /waiting for the operation that holds the lock to finish/);
    assert.deepEqual(await interfaces(a), [], "the DEL ran after the ADD, so it removed both interfaces");
    assert.deepEqual(await leftovers(), []);
  });

  test("CNI-R-16 operations on different sandboxes run side by side", async () => {
    const a = await sandbox();
    const b = await sandbox();
    const addA = start("ADD", a, { slow: true });
    await waitFor("A's second delegate to be running", () => started(a));
    const addB = start("ADD", b, { slow: true });
    await waitFor("B's second delegate to be running", () => started(b));
    assert.equal(await finished(a), false, "B's ADD got as far as its second delegate while A's was still in it");
    for (const r of await Promise.all([addA.done, addB.done])) assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(await interfaces(a), ["eth0", "net1"]);
    assert.deepEqual(await interfaces(b), ["eth0", "net1"]);
    for (const s of [a, b]) assert.equal((await startCommandDone("DEL", s)).code, 0);
    assert.deepEqual(await leftovers(), []);
  });

  test("CNI-R-12 GC waits for an ADD in flight: a sandbox the runtime no longer lists is torn down whole, after its ADD", async () => {
    const keep = await sandbox();
    assert.equal((await startCommandDone("ADD", keep)).code, 0);
    const b = await sandbox();
    const add = start("ADD", b, { slow: true });
    await waitFor("B's second delegate to be running", () => started(b));
    const gcConf = JSON.stringify({ ...(JSON.parse(conf()) as object), "cni.dev/valid-attachments": [{ containerID: keep.id, ifname: "eth0" }] });
    const gc = start("GC", undefined, { stdin: gcConf });
    const [added, collected] = await Promise.all([add.done, gc.done]);
    assert.equal(added.code, 0, added.stdout + added.stderr);
    assert.equal(collected.code, 0, collected.stdout + collected.stderr);
    assert.ok(collected.exitedAt >= added.exitedAt, "GC ended after the ADD it waited for");
    assert.deepEqual(await interfaces(b), [], "GC saw B's finished ADD and removed all of it, not half of it");
    assert.deepEqual(await interfaces(keep), ["eth0", "net1"], "the valid sandbox keeps everything");
    assert.equal((await startCommandDone("DEL", keep)).code, 0);
    assert.deepEqual(await leftovers(), []);
  });

  test("CNI-R-12 an ADD that starts while GC runs waits for it", async () => {
    const stale = await sandbox();
    // A stale sandbox whose teardown by GC is slow: its second delegate sleeps in DEL.
    assert.equal((await startCommandDone("ADD", stale)).code, 0);
    const gcConf = JSON.stringify({ ...(JSON.parse(conf()) as object), "cni.dev/valid-attachments": [] });
    const gc = start("GC", undefined, { stdin: gcConf, slow: true, slowAt: "w2:before:DEL" });
    await waitFor("GC's DEL of the stale sandbox to be running", () => exists(join(marks, `${stale.id}.w2-bridge.started`)));
    const fresh = await sandbox();
    const add = start("ADD", fresh);
    const [collected, added] = await Promise.all([gc.done, add.done]);
    assert.equal(collected.code, 0, collected.stdout + collected.stderr);
    assert.equal(added.code, 0, added.stdout + added.stderr);
    assert.match(added.stderr, /"msg":"waiting for a lock".*"waitingFor":"the node lock \(a GC is running\)"/);
    assert.ok(added.exitedAt >= collected.exitedAt, "the ADD ended after the GC it waited for");
    assert.deepEqual(await interfaces(fresh), ["eth0", "net1"]);
    assert.deepEqual(await interfaces(stale), []);
    assert.equal((await startCommandDone("DEL", fresh)).code, 0);
    assert.deepEqual(await leftovers(), []);
  });
});

describe("a GC killed mid-way", () => {
  test("CNI-R-12 its orphaned delegate keeps the node lock: an ADD waits for it, and the next GC finishes the job", async () => {
    const stale = await sandbox();
    assert.equal((await startCommandDone("ADD", stale)).code, 0);
    const gcConf = JSON.stringify({ ...(JSON.parse(conf()) as object), "cni.dev/valid-attachments": [] });
    const gcRun = startExecutable("multus", {
      netns: node.name, stdin: gcConf, timeoutMs: 60_000,
      env: { CNI_COMMAND: "GC", CNI_PATH: REF, MT_MARKS: marks, MT_SLEEP: "1.5", MT_SLOW_AT: "w2:before:DEL" },
    });
    await waitFor("GC's DEL of the stale sandbox to be running", () => exists(join(marks, `${stale.id}.w2-bridge.started`)));
    process.kill(gcRun.pid, "SIGKILL");
    await gcRun.done;
    const fresh = await sandbox();
    const added = await startCommandDone("ADD", fresh);
    assert.equal(added.code, 0, added.stdout + added.stderr);
    assert.ok(await exists(join(marks, `${stale.id}.w2-bridge.finished`)), "the ADD started only after the killed GC's delegate had finished");
    assert.match(added.stderr, /the multus that started these delegates is gone; waiting for them to finish/);
    assert.equal((await start("GC", undefined, { stdin: JSON.stringify({ ...(JSON.parse(conf()) as object), "cni.dev/valid-attachments": [{ containerID: fresh.id, ifname: "eth0" }] }) }).done).code, 0);
    assert.deepEqual(await interfaces(stale), [], "the next GC tore down what the killed one had left");
    assert.deepEqual(await interfaces(fresh), ["eth0", "net1"]);
    assert.equal((await startCommandDone("DEL", fresh)).code, 0);
    assert.deepEqual(await leftovers(), []);
  });
});

function startCommandDone(command: string, s: Sandbox): Promise<RunResult> {
  return start(command, s).done;
}

describe("a lock note from another PID namespace", () => {
  /** /proc/<pid>/stat field 22: what a holder note records to recognise a process. */
  async function startTime(pid: number): Promise<string> {
    const stat = await readFile(`/proc/${String(pid)}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] ?? "";
  }

  for (const foreign of [true, false]) {
    test(`a holder gone past its deadline whose delegate still holds the lock: ${foreign ? "its PIDs are another namespace's, so nothing is killed and the DEL waits for the lock only" : "(same namespace) the orphan is killed and the DEL goes on"}`, async () => {
      const s = await sandbox();
      const locks = join(state, "multus", "locks");
      await mkdir(locks, { recursive: true, mode: 0o700 });
      const lockFile = join(locks, `${s.id}.lock`);
      // A process that holds the sandbox's lock, standing for a delegate a killed multus left behind
      // (its own process group, as delegates are started).
      await writeFile(lockFile, "");
      const holder = spawn("flock", ["-x", lockFile, "sleep", "30"], { detached: true, stdio: "ignore" });
      const holderPid = holder.pid ?? 0;
      await waitFor("the holder to take the lock", async () => (await run(["flock", "-n", "-x", lockFile, "true"]).then(() => false, () => true)));
      const ownPidns = await readlink("/proc/self/ns/pid");
      await writeFile(lockFile, JSON.stringify({
        pid: 2 ** 22 + 1, start: "1", command: "ADD", containerId: s.id, since: new Date(Date.now() - 60_000).toISOString(), deadline: Date.now() - 1000,
        delegates: [{ pid: holderPid, start: await startTime(holderPid), plugin: "bridge" }], pidns: foreign ? "pid:[1]" : ownPidns,
      }));
      const exited = new Promise<void>((resolve) => {
        holder.once("exit", () => {
          resolve();
        });
      });
      try {
        const del = await start("DEL", s, { stdin: JSON.stringify({ ...JSON.parse(conf()) as Record<string, unknown>, operationTimeoutSeconds: 3 }) }).done;
        if (foreign) {
          assert.equal(del.code, 1, del.stdout + del.stderr);
          assert.match(del.stdout, /held by ADD of a multus in another PID namespace/);
          assert.equal(await startTime(holderPid).then(() => true, () => false), true, "the process the note names was not killed");
        } else {
          assert.equal(del.code, 0, del.stdout + del.stderr);
          await exited;
        }
      } finally {
        try {
          process.kill(-holderPid, "SIGKILL");
        } catch {
          // Already gone (the same-namespace case kills it).
        }
        await exited;
      }
    });
  }
});
