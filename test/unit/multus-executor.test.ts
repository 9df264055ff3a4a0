// Executor semantics with an in-memory DelegateRunner that records every call and fails on demand.
// Real: the record files (a temp cniDir). Scripted: the delegates (the real plugins are exercised in
// test/integration/multus-config-file.test.ts).
import assert from "node:assert/strict";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, test } from "node:test";
import { CniError } from "../../src/cni/cni-error.ts";
import type { CniResult, NetConfList, ValidAttachment } from "../../src/cni/types.ts";
import type { AttachmentPlan } from "../../src/multus/attachment-plan.ts";
import { AttachmentRecords } from "../../src/multus/attachment-record.ts";
import { Executor, type DelegateRequest, type DelegateRunner } from "../../src/multus/executor.ts";

class ScriptedRunner implements DelegateRunner {
  calls: string[] = [];
  failOn = new Map<string, CniError>();

  #step(op: string, list: NetConfList, ifName: string): void {
    const key = `${op} ${list.name} ${ifName}`;
    this.calls.push(key);
    const err = this.failOn.get(key);
    if (err !== undefined) throw err;
  }
  add(list: NetConfList, req: DelegateRequest): Promise<CniResult> {
    this.#step("ADD", list, req.ifName);
    return Promise.resolve({ cniVersion: "1.0.0", interfaces: [{ name: req.ifName, sandbox: req.netns }] });
  }
  del(list: NetConfList, req: DelegateRequest): Promise<void> {
    this.#step("DEL", list, req.ifName);
    return Promise.resolve();
  }
  check(list: NetConfList, req: DelegateRequest): Promise<void> {
    this.#step("CHECK", list, req.ifName);
    return Promise.resolve();
  }
  status(list: NetConfList): Promise<void> {
    this.#step("STATUS", list, "-");
    return Promise.resolve();
  }
  gc(list: NetConfList, valid: ValidAttachment[]): Promise<void> {
    this.#step("GC", list, valid.map((v) => `${v.containerID}/${v.ifname}`).join(","));
    return Promise.resolve();
  }
}

const silent = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

function planOf(containerId: string, networks: string[]): AttachmentPlan {
  return {
    containerId,
    netns: "/run/netns/x",
    ifName: "eth0",
    attachments: networks.map((n, index) => ({
      index,
      network: n,
      ifName: index === 0 ? "eth0" : `net${index}`,
      delegate: { cniVersion: "1.0.0", name: n, plugins: [{ type: "bridge" }] },
      isDefault: index === 0,
      cniArgs: [["IgnoreUnknown", "true"]],
      capabilityArgs: {},
    })),
  };
}

let dir: string;
let records: AttachmentRecords;
let runner: ScriptedRunner;
let exec: Executor;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "mt-exec-"));
  records = new AttachmentRecords(dir);
  runner = new ScriptedRunner();
  exec = new Executor(runner, records, silent);
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

test("ADD runs attachments in order and keeps the record (NPWG-22)", async () => {
  const out = await exec.add(planOf("c1", ["a", "b", "c"]));
  assert.deepEqual(runner.calls, ["ADD a eth0", "ADD b net1", "ADD c net2"]);
  assert.equal(out.length, 3);
  const rec = await records.read("c1");
  assert.ok(rec !== undefined && "plan" in rec);
  assert.deepEqual(rec.plan.attachments.map((a) => a.network), ["a", "b", "c"]);
});

test("NPWG-25 third of three fails: later ones never run, rollback DELs all attempted in reverse, record removed", async () => {
  runner.failOn.set("ADD c net2", new CniError(7, "boom"));
  await assert.rejects(exec.add(planOf("c1", ["a", "b", "c"])), (err: unknown) => {
    assert.ok(err instanceof CniError);
    assert.equal(err.code, 7, "the delegate's code is preserved");
    assert.match(err.message, /network "c" \(interface net2\): boom/);
    return true;
  });
  assert.deepEqual(runner.calls, ["ADD a eth0", "ADD b net1", "ADD c net2", "DEL c net2", "DEL b net1", "DEL a eth0"]);
  assert.equal(await records.read("c1"), undefined);
});

test("a failed rollback keeps a record of the completed attachments so the runtime's DEL can finish the job", async () => {
  runner.failOn.set("ADD b net1", new CniError(11, "later"));
  runner.failOn.set("DEL a eth0", new CniError(5, "io"));
  await assert.rejects(exec.add(planOf("c1", ["a", "b"])), /rollback also failed.*network "a"/);
  const rec = await records.read("c1");
  assert.ok(rec !== undefined && "plan" in rec);
  assert.deepEqual(rec.plan.attachments.map((a) => a.network), ["a"]);
});

test("the failing attachment's own DEL is best-effort: its failure neither masks the error nor keeps the record", async () => {
  runner.failOn.set("ADD b net1", new CniError(7, "bad parent"));
  runner.failOn.set("DEL b net1", new CniError(7, "bad parent"));
  await assert.rejects(exec.add(planOf("c1", ["a", "b"])), (err: unknown) => {
    assert.ok(err instanceof CniError);
    assert.doesNotMatch(err.message, /rollback also failed/);
    return true;
  });
  assert.deepEqual(runner.calls, ["ADD a eth0", "ADD b net1", "DEL b net1", "DEL a eth0"]);
  assert.equal(await records.read("c1"), undefined);
});

test("NPWG-25 DEL runs in reverse, continues past a failure, returns it, and keeps the record", async () => {
  await exec.add(planOf("c1", ["a", "b", "c"]));
  runner.calls = [];
  runner.failOn.set("DEL b net1", new CniError(11, "busy"));
  await assert.rejects(exec.del(planOf("c1", ["a", "b", "c"])), (err: unknown) => err instanceof CniError && err.code === 11);
  assert.deepEqual(runner.calls, ["DEL c net2", "DEL b net1", "DEL a eth0"]);
  assert.ok((await records.read("c1")) !== undefined, "record kept after a failed DEL");
  runner.failOn.clear();
  await exec.del(planOf("c1", ["a", "b", "c"]));
  assert.equal(await records.read("c1"), undefined, "record removed once every DEL succeeded");
  await exec.del(planOf("c1", ["a", "b", "c"]));
});

test("CHECK stops at the first failing attachment and names it", async () => {
  runner.failOn.set("CHECK b net1", new CniError(3, "gone"));
  await assert.rejects(exec.check(planOf("c1", ["a", "b", "c"])), /network "b" \(interface net1\): gone/);
  assert.deepEqual(runner.calls, ["CHECK a eth0", "CHECK b net1"]);
});

test("STATUS keeps a delegate's code 50", async () => {
  runner.failOn.set("STATUS b -", new CniError(50, "not ready"));
  const lists = planOf("x", ["a", "b"]).attachments.map((a) => a.delegate);
  await assert.rejects(exec.status(lists), (err: unknown) => err instanceof CniError && err.code === 50);
});

test("GC tears down recorded sandboxes the runtime no longer lists and forwards the rest by interface", async () => {
  await exec.add(planOf("keep", ["a", "b"]));
  await exec.add(planOf("stale", ["a", "b"]));
  runner.calls = [];
  const lists = planOf("x", ["a", "b"]).attachments.map((a) => a.delegate);
  await exec.gc(lists, [{ containerID: "keep", ifname: "eth0" }]);
  assert.deepEqual(runner.calls, ["DEL b net1", "DEL a eth0", "GC a keep/eth0", "GC b keep/net1"]);
  assert.deepEqual(await readdir(join(dir, "attachments")), ["keep.json"]);
});

test("DEL of a plan rebuilt without a record is best-effort: failures are logged, not returned", async () => {
  runner.failOn.set("DEL b net1", new CniError(7, "Link not found"));
  await exec.del(planOf("c9", ["a", "b"]), { bestEffort: true });
  assert.deepEqual(runner.calls, ["DEL b net1", "DEL a eth0"]);
  await assert.rejects(exec.del(planOf("c9", ["a", "b"])), /Link not found/, "without bestEffort the same failure is returned");
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
  };
  const e = new Executor(serial, records, silent);
  await e.add(planOf("p1", ["a", "b", "c", "d"]));
  await e.del(planOf("p1", ["a", "b", "c", "d"]));
  assert.equal(most, 1);
});
