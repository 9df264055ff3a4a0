// kill -9 of multus at every step of an ADD, then the runtime's DEL, twice (with the netns, then with
// CNI_NETNS="" as containerd's second DEL): both succeed, and no link, lease, iptables rule, journal,
// lock file or result-cache file is left — also when the killed multus left a delegate running that
// finishes its ADD afterwards (the DEL waits for it through the inherited sandbox lock, then tears
// down what it made).
// Real: kube-apiserver + etcd (the pod and its network-status patch), dist/bin/multus, the reference
// bridge (ipMasq: iptables rules), macvlan and host-local plugins in namespaces the test creates.
// Each delegate is reached through a wrapper (test/helpers/slow-wrappers.ts: w1-bridge, w2-bridge,
// w3-macvlan) that runs the real plugin and, when told, sleeps before or after it, so that the test can
// kill multus while that delegate runs.
import assert from "node:assert/strict";
import { mkdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { after, afterEach, before, beforeEach, describe, test } from "node:test";
import { createNamespace, useCluster } from "../cluster/harness.ts";
import { createKubeBed, type KubeBed, type TestPod } from "../helpers/kube-bed.ts";
import { createSlowWrappers } from "../helpers/slow-wrappers.ts";

const cluster = useCluster();
let wrappers: string;
let bed: KubeBed;
let marks: string;


before(async () => {
  wrappers = await createSlowWrappers(["w1-bridge", "w2-bridge", "w3-macvlan"]);
});

after(async () => {
  await rm(wrappers, { recursive: true, force: true });
});

beforeEach(async () => {
  // The cluster network masquerades (iptables rules that must go with it).
  bed = await createKubeBed(cluster, { clusterConf: { type: "w1-bridge", ipMasq: true } });
  await writeFile(join(bed.confDir, "20-dn-a.conf"), JSON.stringify({ cniVersion: "1.0.0", name: "dn-a", type: "w2-bridge", bridge: "mt-dna0", ipam: { type: "host-local", subnet: "10.91.0.0/24", dataDir: bed.ipamDir } }));
  await writeFile(join(bed.confDir, "30-dn-b.conf"), JSON.stringify({ cniVersion: "1.0.0", name: "dn-b", type: "w3-macvlan", master: "lan0", mode: "bridge", ipam: { type: "host-local", subnet: "10.20.0.0/24", rangeStart: "10.20.0.100", dataDir: bed.ipamDir } }));
  marks = join(bed.state, "marks");
  await mkdir(marks);
});

afterEach(async () => {
  await bed.close();
});

/**
 * Every network is a file named by its absolute path, and the pod's annotations come in runtimeConfig
 * (containerd's pod-annotations capability): the only API call of the ADD is the network-status
 * patch, so a held API bridge stops multus exactly there.
 */
function conf(extra: Record<string, unknown> = {}): string {
  return bed.conf({
    clusterNetwork: join(bed.confDir, "10-cluster.conf"),
    defaultNetworks: [join(bed.confDir, "20-dn-a.conf"), join(bed.confDir, "30-dn-b.conf")],
    binDir: wrappers,
    runtimeConfig: { "io.kubernetes.cri.pod-annotations": {} },
    ...extra,
  });
}

async function journalStates(p: TestPod): Promise<string[] | undefined> {
  try {
    const json = JSON.parse(await readFile(join(bed.cniDir, "attachments", `${p.containerId}.json`), "utf8")) as { attachments: { state: string }[] };
    return json.attachments.map((a) => a.state);
  } catch {
    return undefined;
  }
}

async function waitFor(what: string, probe: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

const exists = (path: string): Promise<boolean> => stat(path).then(() => true, () => false);

interface Case {
  title: string;
  /** Sleep one wrapper before or after its plugin. */
  slowAt?: string;
  /** Hold the API from the start: multus then blocks in the network-status patch. */
  holdApi?: boolean;
  /** Start multus without the readiness indicator file: it waits before planning anything. */
  notReady?: boolean;
  /** When to kill multus. */
  killWhen: (p: TestPod) => Promise<boolean>;
  /** The journal as multus left it. */
  journal: string[] | undefined;
}

const marked = (name: string) => (p: TestPod) => exists(join(marks, `${p.containerId}.${name}.started`));

const CASES: Case[] = [
  { title: "before the journal (waiting for the readiness indicator)", notReady: true, killWhen: async () => { await sleep(600); return true; }, journal: undefined },
  { title: "after the journal, before the first delegate acts", slowAt: "w1:before", killWhen: marked("w1-bridge"), journal: ["adding", "planned", "planned"] },
  { title: "during the first delegate's ADD, after it acted", slowAt: "w1:after", killWhen: marked("w1-bridge"), journal: ["adding", "planned", "planned"] },
  { title: "during the second delegate's ADD, before it acts", slowAt: "w2:before", killWhen: marked("w2-bridge"), journal: ["added", "adding", "planned"] },
  { title: "during the second delegate's ADD, after it acted", slowAt: "w2:after", killWhen: marked("w2-bridge"), journal: ["added", "adding", "planned"] },
  { title: "during the last delegate's ADD, before it acts", slowAt: "w3:before", killWhen: marked("w3-macvlan"), journal: ["added", "added", "adding"] },
  { title: "during the last delegate's ADD, after it acted", slowAt: "w3:after", killWhen: marked("w3-macvlan"), journal: ["added", "added", "adding"] },
  { title: "after the last delegate", holdApi: true, killWhen: async (p) => (await journalStates(p))?.every((s) => s === "added") === true, journal: ["added", "added", "added"] },
  { title: "during the network-status patch", holdApi: true, killWhen: () => Promise.resolve(bed.api.heldBytes() > 0), journal: ["added", "added", "added"] },
];

describe("kill -9 of multus at every step of an ADD, then the runtime's DEL twice", () => {
  for (const c of CASES) {
    test(`CNI-R-10 NPWG-25 killed ${c.title}: both DELs succeed and nothing is left`, async (t) => {
      const ns = await createNamespace(t);
      const p = await bed.createPod(ns, undefined);
      const readiness = join(bed.state, "ready");
      if (c.notReady !== true) await writeFile(readiness, "");
      if (c.holdApi === true) bed.api.hold();
      const env = { MT_MARKS: marks, MT_SLEEP: "2", ...(c.slowAt === undefined ? {} : { MT_SLOW_AT: c.slowAt }) };
      const add = bed.startCni("ADD", p, { conf: conf({ readinessindicatorfile: readiness }), env });
      const exited = add.done.then(() => true);
      await waitFor(`the moment to kill (${c.title})`, async () => {
        if (await Promise.race([exited, Promise.resolve(false)])) throw new Error(`multus finished before it could be killed: ${JSON.stringify(await add.done)}`);
        return c.killWhen(p);
      });
      process.kill(add.pid, "SIGKILL");
      const killed = await add.done;
      assert.equal(killed.signal, "SIGKILL");
      bed.api.release();
      // Checked last, so that a teardown failure is what a regression reports first.
      const journalAtKill = await journalStates(p);

      // The runtime's DEL right away: a delegate the killed multus left running still holds the lock.
      const del = await bed.cni("DEL", p, { conf: conf(), env: { MT_MARKS: marks, MT_SLEEP: "0" } });
      assert.equal(del.code, 0, del.stdout + del.stderr);
      const name = c.slowAt === undefined ? undefined : `${c.slowAt.slice(0, 2)}-${c.slowAt.startsWith("w3") ? "macvlan" : "bridge"}`;
      const finished = name === undefined ? undefined : join(marks, `${p.containerId}.${name}.finished`);
      const finishedBeforeDelReturned = finished === undefined ? true : await exists(finished);
      const second = await bed.cni("DEL", p, { conf: conf(), netnsPath: "" });
      assert.equal(second.code, 0, second.stdout + second.stderr);
      // Whatever an orphaned delegate does, it has done it by now: what it made must be gone too.
      if (finished !== undefined) await waitFor("the orphaned delegate to finish", () => exists(finished));
      assert.deepEqual([...(await bed.podInterfaces(p)).keys()], []);
      assert.deepEqual(await bed.residue(p), []);
      assert.ok(finishedBeforeDelReturned, "the DEL waited for the orphaned delegate before it tore down");
      assert.deepEqual(journalAtKill, c.journal, "the journal recorded how far the ADD got");
      if (c.slowAt?.endsWith("before") === true) {
        assert.match(del.stderr, /the multus that started these delegates is gone; waiting for them to finish/, "the DEL noticed the orphaned delegate");
      }
    });
  }

  test("an orphaned delegate that outlives its killed multus's budget is killed by the DEL waiting for it, which then tears down", async (t) => {
    const ns = await createNamespace(t);
    const p = await bed.createPod(ns, undefined);
    await writeFile(join(bed.state, "ready"), "");
    // The second delegate hangs (30 s) far beyond the ADD's 3 s budget.
    const add = bed.startCni("ADD", p, { conf: conf({ operationTimeoutSeconds: 3 }), env: { MT_MARKS: marks, MT_SLEEP: "30", MT_SLOW_AT: "w2:before" } });
    await waitFor("the second delegate to hang", () => exists(join(marks, `${p.containerId}.w2-bridge.started`)));
    process.kill(add.pid, "SIGKILL");
    await add.done;
    const del = await bed.cni("DEL", p, { conf: conf() });
    assert.equal(del.code, 0, del.stdout + del.stderr);
    assert.match(del.stderr, /killed a delegate orphaned by a killed multus after its deadline/);
    assert.equal(await exists(join(marks, `${p.containerId}.w2-bridge.finished`)), false, "the orphan never got to run its plugin");
    assert.equal((await bed.cni("DEL", p, { conf: conf(), netnsPath: "" })).code, 0);
    assert.deepEqual([...(await bed.podInterfaces(p)).keys()], []);
    assert.deepEqual(await bed.residue(p), []);
  });
});
