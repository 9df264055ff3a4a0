// Executor semantics with an in-memory DelegateRunner that records every call and fails on demand.
// Real: the journal files (a temp cniDir), read back after every step. Scripted: the delegates (the
// real plugins and the real executable are exercised in test/integration/).
import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm, writeFile, mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, test } from "node:test";
import { CniError } from "../../src/cni/cni-error.ts";
import { admitDelegateConfig, defaultDelegatePolicy, type DelegateConfig } from "../../src/cni/delegate-config.ts";
import type { CniResult, ValidAttachment } from "../../src/cni/types.ts";
import { AttachmentJournal, type AttachmentState, type JournalEntry } from "../../src/multus/attachment-journal.ts";
import type { AttachmentPlan } from "../../src/multus/attachment-plan.ts";
import { Executor, type CachedAttachmentKey, type DelegateRequest, type DelegateRunner, type OperationContext } from "../../src/multus/executor.ts";
import { Budget } from "../../src/util/budget.ts";

class ScriptedRunner implements DelegateRunner {
  calls: string[] = [];
  failOn = new Map<string, CniError>();
  results = new Map<string, CniResult>();
  cache: CachedAttachmentKey[] = [];
  /** Called before each step, e.g. to read the journal as it stands while a delegate "runs". */
  onStep: ((key: string) => Promise<void>) | undefined;

  async #step(op: string, list: DelegateConfig, ifName: string): Promise<void> {
    const key = `${op} ${list.name} ${ifName}`;
    this.calls.push(key);
    await this.onStep?.(key);
    const err = this.failOn.get(key);
    if (err !== undefined) throw err;
  }
  async add(list: DelegateConfig, req: DelegateRequest): Promise<CniResult> {
    await this.#step("ADD", list, req.ifName);
    return this.results.get(`${list.name} ${req.ifName}`) ?? { cniVersion: "1.0.0", interfaces: [{ name: req.ifName, sandbox: req.netns }] };
  }
  async del(list: DelegateConfig, req: DelegateRequest): Promise<void> {
    await this.#step("DEL", list, req.ifName);
  }
  async check(list: DelegateConfig, req: DelegateRequest): Promise<void> {
    await this.#step("CHECK", list, req.ifName);
  }
  async status(list: DelegateConfig): Promise<void> {
    await this.#step("STATUS", list, "-");
  }
  async gc(list: DelegateConfig, valid: ValidAttachment[]): Promise<void> {
    await this.#step("GC", list, valid.map((v) => `${v.containerID}/${v.ifname}`).sort().join(","));
  }
  cachedAttachments(): Promise<CachedAttachmentKey[]> {
    return Promise.resolve(this.cache);
  }
}

const silent = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

/** Networks "ns/<n>" whose delegate's CNI name is `<n>-cni`: the two names differ, as for real NADs. */
function planOf(containerId: string, networks: string[]): AttachmentPlan {
  return {
    containerId,
    netns: "/run/netns/x",
    ifName: "eth0",
    attachments: networks.map((n, index) => ({
      index,
      network: `ns/${n}`,
      ifName: index === 0 ? "eth0" : `net${index}`,
      delegate: admitDelegateConfig({ cniVersion: "1.0.0", name: `${n}-cni`, plugins: [{ type: "bridge" }] }, { source: { kind: "nad", namespace: "ns", name: n }, policy: defaultDelegatePolicy("kube-system") }),
      isDefault: index === 0,
      cniArgs: [["IgnoreUnknown", "true"]],
      capabilityArgs: {},
    })),
  };
}

const ctx = (): OperationContext => ({ budget: new Budget("test", 60_000, "operationTimeoutSeconds") });

let dir: string;
let journal: AttachmentJournal;
let runner: ScriptedRunner;
let exec: Executor;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "mt-exec-"));
  journal = new AttachmentJournal(dir);
  runner = new ScriptedRunner();
  exec = new Executor(runner, journal, silent, { rollbackTimeoutMs: 20_000 });
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function states(containerId: string): Promise<AttachmentState[] | undefined> {
  const r = await journal.read(containerId);
  if (r === undefined) return undefined;
  assert.ok("entry" in r, JSON.stringify(r));
  return r.entry.states;
}

async function entryOf(containerId: string): Promise<JournalEntry> {
  const r = await journal.read(containerId);
  assert.ok(r !== undefined && "entry" in r);
  return r.entry;
}

test("NPWG-22 ADD runs attachments in order; the journal is written before each delegate starts and shows its progress", async () => {
  const seen: string[] = [];
  runner.onStep = async (key) => {
    seen.push(`${key}: ${(await states("c1"))?.join(",") ?? "no journal"}`);
  };
  const out = await exec.add(planOf("c1", ["a", "b", "c"]), ctx());
  assert.deepEqual(runner.calls, ["ADD a-cni eth0", "ADD b-cni net1", "ADD c-cni net2"]);
  assert.deepEqual(seen, [
    "ADD a-cni eth0: adding,planned,planned",
    "ADD b-cni net1: added,adding,planned",
    "ADD c-cni net2: added,added,adding",
  ]);
  assert.equal(out.length, 3);
  assert.deepEqual(await states("c1"), ["added", "added", "added"]);
});

test("NPWG-25 third of three fails: later ones never run, rollback DELs all attempted in reverse, journal removed", async () => {
  runner.failOn.set("ADD c-cni net2", new CniError(7, "boom"));
  await assert.rejects(exec.add(planOf("c1", ["a", "b", "c", "d"]), ctx()), (err: unknown) => {
    assert.ok(err instanceof CniError);
    assert.equal(err.code, 7, "the delegate's code is preserved");
    assert.match(err.message, /network "ns\/c" \(interface net2\): boom/);
    return true;
  });
  assert.deepEqual(runner.calls, ["ADD a-cni eth0", "ADD b-cni net1", "ADD c-cni net2", "DEL c-cni net2", "DEL b-cni net1", "DEL a-cni eth0"]);
  assert.equal(await journal.read("c1"), undefined);
});

test("a failed rollback keeps the completed attachments journaled as deleting, so the runtime's DEL finishes the job", async () => {
  runner.failOn.set("ADD b-cni net1", new CniError(11, "later"));
  runner.failOn.set("DEL a-cni eth0", new CniError(5, "io"));
  await assert.rejects(exec.add(planOf("c1", ["a", "b"]), ctx()), /rollback also failed.*network "ns\/a"/);
  const entry = await entryOf("c1");
  assert.deepEqual(entry.plan.attachments.map((a) => a.network), ["ns/a"]);
  assert.deepEqual(entry.states, ["deleting"]);
  runner.failOn.clear();
  runner.calls = [];
  await exec.del(entry, ctx());
  assert.deepEqual(runner.calls, ["DEL a-cni eth0"]);
  assert.equal(await journal.read("c1"), undefined);
});

test("the failing attachment's own DEL is best-effort: its failure neither masks the error nor keeps a journal", async () => {
  runner.failOn.set("ADD b-cni net1", new CniError(7, "bad parent"));
  runner.failOn.set("DEL b-cni net1", new CniError(7, "bad parent"));
  await assert.rejects(exec.add(planOf("c1", ["a", "b"]), ctx()), (err: unknown) => {
    assert.ok(err instanceof CniError);
    assert.doesNotMatch(err.message, /rollback also failed/);
    return true;
  });
  assert.deepEqual(runner.calls, ["ADD a-cni eth0", "ADD b-cni net1", "DEL b-cni net1", "DEL a-cni eth0"]);
  assert.equal(await journal.read("c1"), undefined);
});

test("after a crash during the rollback, an attachment whose ADD had failed is torn down best-effort", async () => {
  await journal.write({ plan: planOf("c7", ["a", "b"]), states: ["deleting", "failed"] });
  runner.failOn.set("DEL b-cni net1", new CniError(7, "bad parent"));
  await exec.del(await entryOf("c7"), ctx());
  assert.deepEqual(runner.calls, ["DEL b-cni net1", "DEL a-cni eth0"]);
  assert.equal(await journal.read("c7"), undefined);
});

test("DEL after a crash: attachments never started are skipped, those that may have started are strict", async () => {
  // As a kill -9 during the second delegate's ADD leaves it.
  const plan = planOf("c2", ["a", "b", "c"]);
  await journal.write({ plan, states: ["added", "adding", "planned"] });
  runner.failOn.set("DEL b-cni net1", new CniError(11, "still busy"));
  await assert.rejects(exec.del(await entryOf("c2"), ctx()), /network "ns\/b" \(interface net1\): still busy/);
  assert.deepEqual(runner.calls, ["DEL b-cni net1", "DEL a-cni eth0"], "c never started: no DEL");
  assert.deepEqual(await states("c2"), ["deleting"], "only b is left, and a later DEL retries it");
  runner.failOn.clear();
  await exec.del(await entryOf("c2"), ctx());
  assert.equal(await journal.read("c2"), undefined);
});

test("NPWG-25 DEL runs in reverse, continues past a failure, returns it, and keeps what failed", async () => {
  await exec.add(planOf("c1", ["a", "b", "c"]), ctx());
  runner.calls = [];
  runner.failOn.set("DEL b-cni net1", new CniError(11, "busy"));
  await assert.rejects(exec.del(await entryOf("c1"), ctx()), (err: unknown) => err instanceof CniError && err.code === 11);
  assert.deepEqual(runner.calls, ["DEL c-cni net2", "DEL b-cni net1", "DEL a-cni eth0"]);
  assert.deepEqual((await entryOf("c1")).plan.attachments.map((a) => a.ifName), ["net1"]);
  runner.failOn.clear();
  await exec.del(await entryOf("c1"), ctx());
  assert.equal(await journal.read("c1"), undefined, "journal removed once every DEL succeeded");
});

test("ADD of a container that still has a journal is refused naming it (the runtime must DEL first)", async () => {
  await journal.write({ plan: planOf("c3", ["a"]), states: ["adding"] });
  await assert.rejects(exec.add(planOf("c3", ["a"]), ctx()), (err: unknown) => {
    assert.ok(err instanceof CniError);
    assert.equal(err.details, "MULTUS_ERR_ALREADY_ATTACHED");
    assert.match(err.message, /container c3 already has attachments from an earlier ADD \(eth0 "ns\/a" adding, .*c3\.json\)/);
    return true;
  });
  assert.deepEqual(runner.calls, []);
});

test("version 1 journals (no states) are torn down strictly, every attachment", async () => {
  await mkdir(journal.dir, { recursive: true });
  const plan = planOf("old1", ["a", "b"]);
  await writeFile(journal.pathOf("old1"), JSON.stringify({ kind: "multusTsAttachmentsV1", containerId: "old1", netns: plan.netns, ifName: "eth0", attachments: plan.attachments.map(({ index: _i, ...a }) => a) }));
  const entry = await entryOf("old1");
  assert.deepEqual(entry.states, ["added", "added"]);
  await exec.del(entry, ctx());
  assert.deepEqual(runner.calls, ["DEL b-cni net1", "DEL a-cni eth0"]);
});

test("CHECK stops at the first failing attachment and names it; an incomplete ADD cannot be checked", async () => {
  await exec.add(planOf("c1", ["a", "b", "c"]), ctx());
  runner.calls = [];
  runner.failOn.set("CHECK b-cni net1", new CniError(3, "gone"));
  await assert.rejects(exec.check(await entryOf("c1"), ctx()), /network "ns\/b" \(interface net1\): gone/);
  assert.deepEqual(runner.calls, ["CHECK a-cni eth0", "CHECK b-cni net1"]);
  await journal.write({ plan: planOf("c4", ["a", "b"]), states: ["added", "adding"] });
  await assert.rejects(exec.check(await entryOf("c4"), ctx()), (err: unknown) => err instanceof CniError && err.code === 3 && /did not complete \(eth0 "ns\/a" added, net1 "ns\/b" adding\)/.test(err.message));
});

test("STATUS keeps a delegate's code 50", async () => {
  runner.failOn.set("STATUS b-cni -", new CniError(50, "not ready"));
  const lists = planOf("x", ["a", "b"]).attachments.map((a) => a.delegate);
  await assert.rejects(exec.status(lists, ctx()), (err: unknown) => err instanceof CniError && err.code === 50);
});

test("CNI-R-12 GC keys the valid set by the delegate's CNI name, not the NAD reference: the live sandbox keeps its attachments", async () => {
  await exec.add(planOf("keep", ["a", "b"]), ctx());
  await exec.add(planOf("stale", ["a", "b"]), ctx());
  // What the result cache holds: both sandboxes, plus one ADDed by upstream Multus (no journal of ours).
  runner.cache = [
    { networkName: "a-cni", containerId: "keep", ifName: "eth0" },
    { networkName: "b-cni", containerId: "keep", ifName: "net1" },
    { networkName: "a-cni", containerId: "stale", ifName: "eth0" },
    { networkName: "b-cni", containerId: "upstream1", ifName: "net1" },
  ];
  runner.calls = [];
  const lists = planOf("x", ["a", "b"]).attachments.map((a) => a.delegate);
  await exec.gc(lists, [{ containerID: "keep", ifname: "eth0" }, { containerID: "upstream1", ifname: "eth0" }], ctx());
  assert.deepEqual(runner.calls, ["DEL b-cni net1", "DEL a-cni eth0", "GC a-cni keep/eth0", "GC b-cni keep/net1,upstream1/net1"]);
  assert.deepEqual(await readdir(join(dir, "attachments")), ["keep.json"]);
});

test("DEL of a plan rebuilt without a journal is best-effort: failures are logged, not returned", async () => {
  runner.failOn.set("DEL b-cni net1", new CniError(7, "Link not found"));
  await exec.delRebuilt(planOf("c9", ["a", "b"]), ctx());
  assert.deepEqual(runner.calls, ["DEL b-cni net1", "DEL a-cni eth0"]);
});

test("ips/mac passed only as CNI_ARGS must show in the result, or the attachment is rolled back naming the capability", async () => {
  const plan = planOf("c5", ["a", "b"]);
  const b = plan.attachments[1];
  assert.ok(b !== undefined);
  b.expect = { ips: ["10.1.1.21/24"], mac: "0a:58:0a:01:01:15" };
  runner.results.set("b-cni net1", { cniVersion: "1.0.0", interfaces: [{ name: "net1", sandbox: "/run/netns/x", mac: "0A:58:0A:01:01:15" }], ips: [{ address: "10.1.1.21/24", interface: 0 }] });
  await exec.add(plan, ctx());
  await exec.del(await entryOf("c5"), ctx());
  runner.calls = [];
  runner.results.set("b-cni net1", { cniVersion: "1.0.0", interfaces: [{ name: "net1", sandbox: "/run/netns/x", mac: "0a:58:0a:01:01:15" }], ips: [{ address: "10.1.1.99/24", interface: 0 }] });
  await assert.rejects(exec.add(plan, ctx()), (err: unknown) => {
    assert.ok(err instanceof CniError);
    assert.equal(err.details, "MULTUS_ERR_CAPABILITY_MISSING");
    assert.match(err.message, /^network "ns\/b" \(interface net1\): the result lacks the requested address 10\.1\.1\.21\/24 \("ips", capability "ips"\).*add "capabilities": \{"ips": true\}/);
    return true;
  });
  assert.deepEqual(runner.calls, ["ADD a-cni eth0", "ADD b-cni net1", "DEL b-cni net1", "DEL a-cni eth0"], "the attachment that ignored the request is undone too");
  assert.equal(await journal.read("c5"), undefined);
});

test("NPWG-26 attachments of one pod are never set up or torn down in parallel", async () => {
  let inFlight = 0;
  let most = 0;
  const slow = async (): Promise<void> => {
    inFlight++;
    most = Math.max(most, inFlight);
    await new Promise((r) => setTimeout(r, 5));
    inFlight--;
  };
  const serial: DelegateRunner = {
    add: async (_l, req) => {
      await slow();
      return { cniVersion: "1.0.0", interfaces: [{ name: req.ifName }] };
    },
    del: slow,
    check: slow,
    status: slow,
    gc: slow,
    cachedAttachments: () => Promise.resolve([]),
  };
  const e = new Executor(serial, journal, silent, { rollbackTimeoutMs: 20_000 });
  await e.add(planOf("p1", ["a", "b", "c", "d"]), ctx());
  await e.del(await entryOf("p1"), ctx());
  assert.equal(most, 1);
});

test("journal files are written atomically with mode 0600 and hold the plan and every state", async () => {
  await exec.add(planOf("c6", ["a"]), ctx());
  const text = await readFile(journal.pathOf("c6"), "utf8");
  const json = JSON.parse(text) as { kind: string; attachments: { state: string; network: string }[] };
  assert.equal(json.kind, "multusTsAttachmentsV2");
  assert.deepEqual(json.attachments.map((a) => [a.network, a.state]), [["ns/a", "added"]]);
  assert.deepEqual((await readdir(journal.dir)).filter((n) => n.startsWith(".")), [], "no temporary file left");
});

test("a journal attachment the gate will not run again (type multus, recorded by a release before the gate) is left out and logged; the others are torn down strictly", async () => {
  await exec.add(planOf("c9", ["a", "b", "c"]), ctx());
  const file = journal.pathOf("c9");
  const doc = JSON.parse(await readFile(file, "utf8")) as { attachments: { delegate: { plugins: { type: string }[] } }[] };
  const middle = doc.attachments[1];
  assert.ok(middle !== undefined);
  middle.delegate.plugins = [{ type: "multus" }];
  await writeFile(file, JSON.stringify(doc));
  const read = await journal.read("c9");
  assert.ok(read !== undefined && "entry" in read, "not corrupt as a whole");
  assert.deepEqual(read.entry.plan.attachments.map((a) => [a.index, a.network]), [[0, "ns/a"], [1, "ns/c"]]);
  assert.equal(read.entry.refused?.length, 1);
  assert.match(read.entry.refused[0] ?? "", /attachment 1 \(ns\/b, net1\): .*"multus", one of Multus's own programs/);
  runner.calls = [];
  await exec.del(read.entry, ctx());
  assert.deepEqual(runner.calls, ["DEL c-cni net2", "DEL a-cni eth0"]);
  assert.equal(await journal.read("c9"), undefined, "the journal goes once the rest is torn down");
});
