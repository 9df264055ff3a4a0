// Informer edge cases against a scripted loopback API server (no mocks), where the real
// kube-apiserver cannot be made to misbehave on cue: a continue token expiring mid-list, a list
// failing with 500, objects the transform rejects, a throwing listener, a relist diff, a watch that
// ends at once (backoff, not a tight loop), waitForSync timing out, stop() before start().
// The main behaviour is tested against a real kube-apiserver in test/k8s/informer.test.ts.
import assert from "node:assert/strict";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { Informer } from "../../src/k8s/informer.ts";
import type { InformerEvent, InformerOptions } from "../../src/k8s/informer.ts";
import { KubeClient } from "../../src/k8s/kube-client.ts";
import { memoryLogger, type LogLine } from "../helpers/memory-logger.ts";

interface Obj {
  metadata: { name: string; namespace?: string; resourceVersion: string };
  spec?: unknown;
}

function obj(name: string, resourceVersion: string, spec: unknown = {}): Obj {
  return { metadata: { name, namespace: "ns1", resourceVersion }, spec };
}

/** The answer to one request: a list page, a watch stream (events, then end or hold open), or a Status. */
type Reply =
  | { list: Obj[]; resourceVersion: string; continue?: string }
  | { watch: unknown[]; hold?: boolean }
  | { status: number; reason: string; message: string };

interface FakeApi {
  url: string;
  /** Request URLs (path + query) in order. */
  seen: URL[];
  close: () => Promise<void>;
}

/** Answers the i-th request with replies[i]; requests past the script get a held-open empty watch. */
async function fakeApi(replies: Reply[]): Promise<FakeApi> {
  const seen: URL[] = [];
  const server = http.createServer((req, res) => {
    seen.push(new URL(req.url ?? "/", "http://x"));
    const reply = replies[seen.length - 1] ?? { watch: [], hold: true };
    if ("status" in reply) {
      res.writeHead(reply.status, { "Content-Type": "application/json" });
      res.end(JSON.stringify({ kind: "Status", apiVersion: "v1", status: "Failure", code: reply.status, reason: reply.reason, message: reply.message }));
    } else if ("list" in reply) {
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end(JSON.stringify({ kind: "List", metadata: { resourceVersion: reply.resourceVersion, continue: reply.continue ?? "" }, items: reply.list }));
    } else {
      res.writeHead(200, { "Content-Type": "application/json", "Transfer-Encoding": "chunked" });
      for (const ev of reply.watch) res.write(JSON.stringify(ev) + "\n");
      if (reply.hold !== true) res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}


interface Stripped {
  name: string;
  spec: unknown;
}
function strip(raw: unknown): Stripped {
  const o = raw as Obj;
  if (o.spec === "reject") throw new Error("bad spec");
  return { name: o.metadata.name, spec: o.spec };
}

async function withInformer(
  replies: Reply[],
  body: (inf: Informer<Stripped>, ctx: { api: FakeApi; lines: LogLine[]; events: string[] }) => Promise<void>,
  extra: Partial<InformerOptions<Stripped>> = {},
): Promise<void> {
  const api = await fakeApi(replies);
  const client = new KubeClient({ server: new URL(api.url), insecureSkipTlsVerify: false }, { retry: { attempts: 1 } });
  const { log, lines } = memoryLogger();
  const inf = new Informer<Stripped>({ client, path: "/api/v1/pods", transform: strip, log, name: "pods", pageSize: 2, random: () => 0, ...extra });
  const events: string[] = [];
  inf.on((e: InformerEvent<Stripped>) => events.push(`${e.type}:${e.key}`));
  try {
    await body(inf, { api, lines, events });
  } finally {
    await inf.stop();
    client.close();
    await api.close();
  }
}

async function until(cond: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

const expired = { status: 410, reason: "Expired", message: "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter." };

describe("Informer (scripted loopback API)", () => {
  test("a continue token that expires mid-list (410) starts the list over; the store holds the second, complete list", async () => {
    await withInformer(
      [
        { list: [obj("a", "1"), obj("b", "2")], resourceVersion: "10", continue: "tok1" },
        expired,
        { list: [obj("a", "1"), obj("b", "2")], resourceVersion: "12", continue: "tok2" },
        { list: [obj("c", "11")], resourceVersion: "ignored" },
      ],
      async (inf, { api, events }) => {
        inf.start();
        assert.equal(await inf.waitForSync(5_000), true);
        assert.deepEqual(inf.list().map((o) => o.name).sort(), ["a", "b", "c"]);
        assert.deepEqual(events, ["ADDED:ns1/a", "ADDED:ns1/b", "ADDED:ns1/c"]);
        assert.deepEqual({ ...inf.stats }, { lists: 1, relistsAfterGone: 0, watchRestarts: 0, errors: 0 });
        const q = api.seen.map((u) => `${u.searchParams.get("limit") ?? ""}|${u.searchParams.get("continue") ?? ""}`);
        assert.deepEqual(q.slice(0, 4), ["2|", "2|tok1", "2|", "2|tok2"]);
        await until(() => api.seen.length >= 5, "the watch");
        const watch = api.seen[4];
        assert.equal(watch?.searchParams.get("watch"), "true");
        assert.equal(watch.searchParams.get("resourceVersion"), "12", "the watch starts at the list that succeeded");
        assert.equal(watch.searchParams.get("allowWatchBookmarks"), "true");
      },
    );
  });

  test("a failing list is logged, counted and retried with backoff; objects without a name or rejected by transform are skipped", async () => {
    await withInformer(
      [
        { status: 500, reason: "InternalError", message: "etcd is sad" },
        { list: [obj("ok", "1"), obj("bad", "2", "reject"), { metadata: { resourceVersion: "3" } } as unknown as Obj], resourceVersion: "5" },
      ],
      async (inf, { lines }) => {
        inf.start();
        assert.equal(await inf.waitForSync(5_000), true);
        assert.deepEqual(inf.list(), [{ name: "ok", spec: {} }]);
        assert.equal(inf.size, 1);
        assert.equal(inf.stats.errors, 1);
        assert.match(inf.stats.lastError ?? "", /500 InternalError: etcd is sad/);
        const warned = lines.filter((l) => l.level === "warn").map((l) => l.msg);
        assert.deepEqual(warned, [
          "informer list/watch failed; backing off",
          "informer skipped an object its transform rejected",
          "informer skipped an object without metadata.name",
        ]);
        assert.ok(lines.every((l) => l.fields["informer"] === "pods"), "every line names the informer");
        assert.equal(lines.find((l) => l.msg.includes("transform"))?.fields["key"], "ns1/bad");
      },
    );
  });

  test("watch events reach store and listeners; a throwing listener is logged and does not stop the others; a new version the transform rejects drops the old one", async () => {
    await withInformer(
      [
        { list: [obj("a", "1"), obj("b", "2")], resourceVersion: "5" },
        {
          watch: [
            { type: "ADDED", object: obj("c", "6") },
            { type: "MODIFIED", object: obj("a", "7", { v: 2 }) },
            { type: "BOOKMARK", object: { metadata: { resourceVersion: "8" } } },
            { type: "DELETED", object: obj("b", "9") },
            { type: "DELETED", object: obj("never-seen", "10") },
            { type: "MODIFIED", object: obj("c", "11", "reject") },
          ],
          hold: true,
        },
      ],
      async (inf, { lines, events }) => {
        inf.on(() => {
          throw new Error("listener bug");
        });
        inf.start();
        await until(() => events.length >= 6, "six events");
        assert.deepEqual(events, ["ADDED:ns1/a", "ADDED:ns1/b", "ADDED:ns1/c", "MODIFIED:ns1/a", "DELETED:ns1/b", "DELETED:ns1/c"]);
        assert.deepEqual(inf.get("ns1", "a"), { name: "a", spec: { v: 2 } });
        assert.equal(inf.get("ns1", "b"), undefined);
        assert.equal(inf.size, 1);
        assert.equal(lines.filter((l) => l.msg === "informer listener threw").length, 6);
        assert.ok(inf.fresh());
      },
    );
  });

  test("a 410 on the watch relists: gone objects are DELETED, changed ones MODIFIED, unchanged ones silent", async () => {
    await withInformer(
      [
        { list: [obj("keep", "1"), obj("change", "2"), obj("drop", "3")], resourceVersion: "5" },
        { watch: [{ type: "ERROR", object: { kind: "Status", code: 410, reason: "Expired", message: "too old resource version: 5 (100)" } }] },
        { list: [obj("keep", "1"), obj("change", "20", { v: 2 }), obj("new", "21")], resourceVersion: "30" },
      ],
      async (inf, { api, events }) => {
        inf.start();
        await until(() => inf.stats.lists === 2, "the relist");
        assert.deepEqual(events, ["ADDED:ns1/keep", "ADDED:ns1/change", "ADDED:ns1/drop", "MODIFIED:ns1/change", "ADDED:ns1/new", "DELETED:ns1/drop"]);
        assert.deepEqual(inf.list().map((o) => o.name).sort(), ["change", "keep", "new"]);
        assert.deepEqual({ ...inf.stats }, { lists: 2, relistsAfterGone: 1, watchRestarts: 0, errors: 0 });
        await until(() => api.seen.length >= 4, "the watch after the relist");
        assert.equal(api.seen[3]?.searchParams.get("resourceVersion"), "30");
      },
    );
  });

  test("a watch that ends at once without an event backs off instead of reconnecting in a tight loop", async () => {
    await withInformer([{ list: [], resourceVersion: "5" }, { watch: [] }, { watch: [] }, { watch: [] }], async (inf, { api }) => {
      inf.start();
      assert.equal(await inf.waitForSync(5_000), true);
      await sleep(600);
      // random 0: 125 ms, then 250 ms, then 500 ms → at most 3 quick watches in 600 ms, not hundreds.
      assert.ok(api.seen.length <= 5, `requests: ${api.seen.length}`);
      assert.ok(inf.stats.errors >= 2, `errors: ${inf.stats.errors}`);
      assert.equal(inf.stats.lastError, "the watch from resourceVersion 5 ended at once without an event");
    });
  });

  test("the watchdog restarts a silent watch from the last resourceVersion (a bookmark's); fresh() follows the silence", async () => {
    await withInformer(
      [{ list: [obj("a", "1")], resourceVersion: "5" }, { watch: [{ type: "BOOKMARK", object: { metadata: { resourceVersion: "42" } } }], hold: true }],
      async (inf, { api }) => {
        inf.start();
        assert.equal(await inf.waitForSync(5_000), true);
        assert.ok(inf.fresh());
        await until(() => inf.stats.watchRestarts >= 1 && api.seen.length >= 3, "a watchdog restart");
        assert.equal(api.seen[2]?.searchParams.get("resourceVersion"), "42");
        assert.ok(inf.stalenessMs() >= 300);
        assert.equal(inf.fresh(), false, "silent for longer than staleAfterMs");
        assert.equal(inf.stats.errors, 0);
      },
      { staleAfterMs: 300 },
    );
  });

  test("waitForSync times out with false while the API fails; stop() ends the loop in its backoff and resolves waiters", async () => {
    const failures: Reply[] = Array.from({ length: 50 }, () => ({ status: 503, reason: "ServiceUnavailable", message: "down" }));
    await withInformer(failures, async (inf) => {
      inf.start();
      assert.equal(await inf.waitForSync(300), false);
      assert.equal(inf.synced, false);
      assert.equal(inf.stalenessMs(), Infinity);
      const pending = inf.waitForSync(60_000);
      const started = performance.now();
      await inf.stop();
      assert.equal(await pending, false);
      assert.ok(performance.now() - started < 500, "stop() does not wait out the backoff");
      assert.equal(inf.fresh(), false);
    });
  });

  test("stop() before start() resolves; start() after stop() does nothing", async () => {
    await withInformer([], async (inf, { api }) => {
      await inf.stop();
      inf.start();
      await sleep(50);
      assert.equal(api.seen.length, 0);
      assert.equal(await inf.waitForSync(10), false);
    });
  });
});
