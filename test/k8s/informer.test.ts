// The daemon's list+watch Informer against a REAL kube-apiserver + etcd (test/cluster/harness.ts):
// paginated initial sync, watch events into store and listeners, a field selector on
// spec.nodeName (the daemon's pod cache), transform, the real 410 Gone path and a relist that
// catches up with deletions made while the watch was down (behind a loopback TCP proxy the test
// cuts), the staleness watchdog, and stop() leaving the event loop free.
//
// Run: node --test --test-concurrency=1 --test-global-setup=test/cluster/global-setup.ts test/k8s/informer.test.ts
import assert from "node:assert/strict";
import * as net from "node:net";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import type { TestContext } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { loadKubeconfig } from "../../src/k8s/client-config.ts";
import type { ClientConfig } from "../../src/k8s/client-config.ts";
import { Informer } from "../../src/k8s/informer.ts";
import type { InformerEvent, InformerOptions } from "../../src/k8s/informer.ts";
import { KubeClient } from "../../src/k8s/kube-client.ts";
import { decodePod, nadPath } from "../../src/k8s/resources.ts";
import { applyYaml, createNamespace, kubectl, repoRoot, run, uniqueName, useCluster } from "../cluster/harness.ts";
import { memoryLogger, type LogLine } from "../helpers/memory-logger.ts";

const cluster = useCluster();
const NAD = "network-attachment-definitions.k8s.cni.cncf.io";

let adminConfig: ClientConfig;
let admin: KubeClient;

before(async () => {
  adminConfig = await loadKubeconfig(cluster.adminKubeconfig);
  admin = new KubeClient(adminConfig);
});
after(() => {
  admin.close();
});


/** What the NAD informer keeps: transform's whole output, nothing of the raw object. */
interface NadView {
  namespace: string;
  name: string;
  config: string;
  rev: string | undefined;
}
function nadView(raw: unknown): NadView {
  const o = raw as { metadata: { namespace: string; name: string; annotations?: Record<string, string> }; spec: { config: string } };
  return { namespace: o.metadata.namespace, name: o.metadata.name, config: o.spec.config, rev: o.metadata.annotations?.["mts/rev"] };
}

function nadManifest(name: string): Record<string, unknown> {
  const config = JSON.stringify({ cniVersion: "1.0.0", name, type: "bridge" });
  return { apiVersion: "k8s.cni.cncf.io/v1", kind: "NetworkAttachmentDefinition", metadata: { name }, spec: { config } };
}

async function createNads(namespace: string, names: string[]): Promise<void> {
  await applyYaml(JSON.stringify({ apiVersion: "v1", kind: "List", items: names.map(nadManifest) }), { namespace });
}

/** A pod bound to a node no kubelet runs: it stays Pending, which is all these tests need. */
function podManifest(name: string, nodeName: string): Record<string, unknown> {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, annotations: { "k8s.v1.cni.cncf.io/networks": "br-net" } },
    spec: { nodeName, containers: [{ name: "c", image: "registry.invalid/pause:1" }] },
  };
}

interface Harness<T> {
  informer: Informer<T>;
  events: string[];
  lines: LogLine[];
}

/** An informer stopped when the test ends, whose events are recorded as "TYPE:key". */
function startInformer<T>(t: TestContext, opts: Omit<InformerOptions<T>, "log" | "name"> & { name?: string }): Harness<T> {
  const { log, lines } = memoryLogger();
  const informer = new Informer<T>({ name: "test", log, ...opts });
  const events: string[] = [];
  informer.on((e: InformerEvent<T>) => events.push(`${e.type}:${e.key}`));
  t.after(() => informer.stop());
  informer.start();
  return { informer, events, lines };
}

async function until(cond: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

/** Names kubectl sees in the namespace, sorted. */
async function kubectlNames(resource: string, namespace: string): Promise<string[]> {
  const out = await kubectl(["get", resource, "-o", "jsonpath={.items[*].metadata.name}"], { namespace });
  return out.split(/\s+/).filter((s) => s !== "").sort();
}

function names<T extends { name: string }>(informer: Informer<T>): string[] {
  return informer.list().map((o) => o.name).sort();
}

interface TcpProxy {
  /** The API server's URL, through the proxy. */
  server: URL;
  /** Drops every connection and refuses new ones, as a dead network would. */
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

/** A loopback TCP proxy in front of the API server (TLS passes through; the cert names 127.0.0.1). */
async function tcpProxy(target: URL): Promise<TcpProxy> {
  const sockets = new Set<net.Socket>();
  let down = false;
  const server = net.createServer((downstream) => {
    if (down) {
      downstream.destroy();
      return;
    }
    const upstream = net.connect(Number(target.port), target.hostname);
    for (const [a, b] of [[downstream, upstream], [upstream, downstream]] as const) {
      sockets.add(a);
      a.on("error", () => undefined);
      a.on("close", () => {
        sockets.delete(a);
        b.destroy();
      });
      a.pipe(b);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const cut = (): void => {
    down = true;
    for (const s of sockets) s.destroy();
  };
  return {
    server: new URL(`https://127.0.0.1:${port}`),
    cut,
    restore: () => {
      down = false;
    },
    close: () =>
      new Promise<void>((resolve) => {
        cut();
        server.close(() => {
          resolve();
        });
      }),
  };
}

describe("Informer against a real kube-apiserver", () => {
  it("the initial sync lists existing objects page by page (pageSize 2, 7 objects) and is fresh", async (t) => {
    const namespace = await createNamespace(t);
    const created = ["n1", "n2", "n3", "n4", "n5", "n6", "n7"];
    await createNads(namespace, created);
    // The client's request log shows each page as one GET of the collection.
    const { log: clientLog, lines: requests } = memoryLogger();
    const client = new KubeClient(adminConfig, { logger: clientLog });
    t.after(() => {
      client.close();
    });
    let pagesBeforeFirstEvent = -1;
    const { informer, events, lines } = startInformer(t, { client, path: nadPath(namespace), transform: nadView, pageSize: 2, name: "nads" });
    const off = informer.on(() => {
      // Listeners run after the whole list is in the store and before the watch is opened.
      if (pagesBeforeFirstEvent < 0) pagesBeforeFirstEvent = requests.filter((l) => l.msg === "kube request").length;
    });
    assert.equal(informer.fresh(), false);
    assert.equal(informer.stalenessMs(), Infinity);
    assert.equal(await informer.waitForSync(20_000), true);
    off();
    assert.equal(pagesBeforeFirstEvent, 4, "7 objects in pages of 2 are 4 requests");
    assert.equal(informer.synced, true);
    assert.equal(informer.size, 7);
    assert.deepEqual(names(informer), created);
    assert.deepEqual(events, created.map((n) => `ADDED:${namespace}/${n}`));
    assert.deepEqual(informer.get(namespace, "n3"), { namespace, name: "n3", config: JSON.stringify({ cniVersion: "1.0.0", name: "n3", type: "bridge" }), rev: undefined });
    assert.equal(informer.get(namespace, "ghost"), undefined);
    assert.equal(informer.get("other-namespace", "n3"), undefined);
    assert.ok(informer.fresh());
    assert.ok(informer.stalenessMs() < 5_000);
    assert.deepEqual({ ...informer.stats }, { lists: 1, relistsAfterGone: 0, watchRestarts: 0, errors: 0 });
    assert.ok(lines.some((l) => l.msg === "informer listed" && l.fields["informer"] === "nads" && l.fields["objects"] === 7));
  });

  it("ADDED, MODIFIED and DELETED reach the store and the listeners", async (t) => {
    const namespace = await createNamespace(t);
    await createNads(namespace, ["old"]);
    const { informer, events } = startInformer(t, { client: admin, path: nadPath(namespace), transform: nadView });
    assert.equal(await informer.waitForSync(20_000), true);
    const seen: InformerEvent<NadView>[] = [];
    informer.on((e) => seen.push(e));

    await createNads(namespace, ["new"]);
    await until(() => informer.get(namespace, "new") !== undefined, "ADDED new");
    await kubectl(["annotate", NAD, "old", "mts/rev=2"], { namespace });
    await until(() => informer.get(namespace, "old")?.rev === "2", "MODIFIED old");
    await kubectl(["delete", NAD, "old"], { namespace });
    await until(() => informer.get(namespace, "old") === undefined, "DELETED old");

    assert.deepEqual(events, [`ADDED:${namespace}/old`, `ADDED:${namespace}/new`, `MODIFIED:${namespace}/old`, `DELETED:${namespace}/old`]);
    assert.deepEqual(seen.map((e) => [e.type, e.object.name, e.object.rev]), [["ADDED", "new", undefined], ["MODIFIED", "old", "2"], ["DELETED", "old", "2"]]);
    assert.deepEqual(names(informer), ["new"]);
    assert.deepEqual(await kubectlNames(NAD, namespace), ["new"]);
    assert.equal(informer.stats.errors, 0);
  });

  it("a field selector spec.nodeName=<node> caches only that node's pods, stripped by transform", async (t) => {
    const namespace = await createNamespace(t);
    const node = uniqueName("mts-node");
    const otherNode = uniqueName("mts-other");
    const pods = (entries: [string, string][]): string => JSON.stringify({ apiVersion: "v1", kind: "List", items: entries.map(([n, nodeName]) => podManifest(n, nodeName)) });
    await applyYaml(pods([["a1", node], ["a2", node], ["b1", otherNode], ["a3", node], ["b2", otherNode]]), { namespace });
    let transforms = 0;
    const transform = (raw: unknown): { name: string; uid: string; networks: string | undefined } => {
      transforms++;
      const pod = decodePod(raw);
      return { name: pod.metadata.name, uid: pod.metadata.uid, networks: pod.metadata.annotations["k8s.v1.cni.cncf.io/networks"] };
    };
    const { informer, events } = startInformer(t, { client: admin, path: "/api/v1/pods", fieldSelector: `spec.nodeName=${node}`, transform, pageSize: 2, name: "pods" });
    assert.equal(await informer.waitForSync(20_000), true);
    assert.deepEqual(names(informer), ["a1", "a2", "a3"]);
    assert.equal(transforms, 3, "transform runs once per object, only for the selected ones");

    // The store holds exactly transform's shape: no spec, no status, no managedFields.
    const uid = (await kubectl(["get", "pod", "a2", "-o", "jsonpath={.metadata.uid}"], { namespace })).trim();
    assert.deepEqual(informer.get(namespace, "a2"), { name: "a2", uid, networks: "br-net" });

    // While watching: the other node's pod is created first, so it would have arrived before a4.
    await applyYaml(pods([["b3", otherNode]]), { namespace });
    await applyYaml(pods([["a4", node]]), { namespace });
    await until(() => informer.get(namespace, "a4") !== undefined, "ADDED a4");
    // No kubelet confirms a graceful deletion: force it, as the node controller would.
    await kubectl(["delete", "pod", "a1", "--grace-period=0", "--force"], { namespace });
    await until(() => informer.get(namespace, "a1") === undefined, "DELETED a1");
    assert.deepEqual(names(informer), ["a2", "a3", "a4"]);
    assert.equal(informer.get(namespace, "b3"), undefined);
    // A deletion first sets metadata.deletionTimestamp (MODIFIED), even a forced one, then removes the pod.
    assert.deepEqual(
      events.filter((e) => e !== `MODIFIED:${namespace}/a1`),
      [`ADDED:${namespace}/a1`, `ADDED:${namespace}/a2`, `ADDED:${namespace}/a3`, `ADDED:${namespace}/a4`, `DELETED:${namespace}/a1`],
    );
  });

  it("410 Gone from the real API (watch from resourceVersion 1) relists; unchanged objects raise no events", async (t) => {
    const namespace = await createNamespace(t);
    await createNads(namespace, ["x", "y", "z"]);
    const { informer, events, lines } = startInformer(t, { client: admin, path: nadPath(namespace), transform: nadView, pageSize: 2 });
    assert.equal(await informer.waitForSync(20_000), true);
    await sleep(200); // let the watch open
    informer.restartWatch("1");
    await until(() => informer.stats.relistsAfterGone === 1 && informer.stats.lists === 2, "the relist after 410");
    const expired = lines.find((l) => l.msg === "informer watch expired (410); relisting");
    assert.ok(expired !== undefined);
    assert.match(String(expired.fields["error"]), /410 Expired: too old resource version: 1 /);
    assert.deepEqual(names(informer), ["x", "y", "z"]);
    assert.deepEqual(events, ["x", "y", "z"].map((n) => `ADDED:${namespace}/${n}`), "the relist found nothing changed");
    assert.equal(informer.stats.errors, 0);
    // The watch resumed from the new list's version.
    await createNads(namespace, ["w"]);
    await until(() => informer.get(namespace, "w") !== undefined, "ADDED w after the relist");
  });

  it("changes made while the watch was down are reflected after the relist (connection lost, then 410)", async (t) => {
    const namespace = await createNamespace(t);
    await createNads(namespace, ["keep", "drop1", "drop2", "edit", "other"]);
    const proxy = await tcpProxy(adminConfig.server);
    const client = new KubeClient({ ...adminConfig, server: proxy.server }, { retry: { attempts: 1 } });
    t.after(async () => {
      client.close();
      await proxy.close();
    });
    const { informer, events, lines } = startInformer(t, { client, path: nadPath(namespace), transform: nadView, pageSize: 2, random: () => 0 });
    assert.equal(await informer.waitForSync(20_000), true);
    assert.equal(informer.size, 5);
    await sleep(200);

    proxy.cut();
    await until(() => informer.stats.errors >= 1, "the watch to fail");
    assert.equal(informer.fresh(), true, "a short outage does not make the cache stale by itself");
    events.length = 0;
    await kubectl(["delete", NAD, "drop1", "drop2"], { namespace });
    await kubectl(["annotate", NAD, "edit", "mts/rev=9"], { namespace });
    await createNads(namespace, ["added"]);
    // The API's history window would still cover this outage; an ancient version forces the 410.
    informer.restartWatch("1");
    await sleep(300);
    assert.deepEqual(events, [], "nothing arrives while the network is down");
    proxy.restore();

    await until(() => informer.stats.relistsAfterGone === 1 && informer.stats.lists === 2, "the relist after 410", 30_000);
    assert.deepEqual(names(informer), await kubectlNames(NAD, namespace));
    assert.deepEqual(names(informer), ["added", "edit", "keep", "other"]);
    assert.equal(informer.get(namespace, "edit")?.rev, "9");
    assert.deepEqual(events.slice().sort(), [`ADDED:${namespace}/added`, `DELETED:${namespace}/drop1`, `DELETED:${namespace}/drop2`, `MODIFIED:${namespace}/edit`]);
    assert.ok(informer.stats.errors >= 1);
    assert.match(informer.stats.lastError ?? "", /watch NetworkAttachmentDefinitions in namespace .*: cannot reach the API server|socket|ECONNRESET|TLS/i);
    assert.ok(lines.some((l) => l.level === "warn" && l.msg === "informer list/watch failed; backing off"));
    assert.ok(informer.fresh());
  });

  it("the staleness watchdog restarts a silent watch; fresh() turns false while silent and true at the next event", async (t) => {
    const namespace = await createNamespace(t);
    await createNads(namespace, ["quiet"]);
    const { informer, lines } = startInformer(t, { client: admin, path: nadPath(namespace), transform: nadView, staleAfterMs: 1_500 });
    assert.equal(await informer.waitForSync(20_000), true);
    assert.ok(informer.fresh());
    // Nothing changes in the namespace and bookmarks come about once a minute: the watch is silent.
    await until(() => informer.stats.watchRestarts >= 2, "two watchdog restarts", 10_000);
    await until(() => !informer.fresh(), "fresh() to turn false", 5_000);
    assert.ok(informer.stalenessMs() > 1_500);
    assert.ok(informer.synced);
    assert.equal(informer.stats.errors, 0);
    assert.equal(informer.stats.lists, 1, "a stale watch is restarted from its resourceVersion, not relisted");
    assert.ok(lines.some((l) => l.level === "warn" && l.msg === "informer watch silent; restarting it"));
    // The restarted watch still delivers.
    await createNads(namespace, ["loud"]);
    await until(() => informer.get(namespace, "loud") !== undefined, "ADDED loud through a restarted watch");
    assert.ok(informer.fresh());
    assert.ok(informer.stalenessMs() < 1_500);
  });

  it("stop() ends an open watch at once and leaves the event loop free (a child process exits by itself)", async (t) => {
    const namespace = await createNamespace(t);
    await createNads(namespace, ["a"]);
    const { informer } = startInformer(t, { client: admin, path: nadPath(namespace), transform: nadView });
    assert.equal(await informer.waitForSync(20_000), true);
    await sleep(300);
    const started = performance.now();
    await informer.stop();
    assert.ok(performance.now() - started < 1_000, `stop() took ${Math.round(performance.now() - started)} ms`);
    await createNads(namespace, ["b"]);
    await sleep(300);
    assert.equal(informer.get(namespace, "b"), undefined, "a stopped informer does not update");
    assert.equal(informer.fresh(), false);
    await informer.stop(); // idempotent

    // No process.exit and no client.close() in the child: an informer timer or watch socket left
    // behind would keep it alive until run()'s deadline. (Idle keep-alive sockets are unref'd by node:http.)
    const src = (p: string): string => JSON.stringify(new URL(p, `file://${repoRoot}`).href);
    const script = `
      import { loadKubeconfig } from ${src("src/k8s/client-config.ts")};
      import { KubeClient } from ${src("src/k8s/kube-client.ts")};
      import { Informer } from ${src("src/k8s/informer.ts")};
      const client = new KubeClient(await loadKubeconfig(${JSON.stringify(cluster.adminKubeconfig)}));
      const nop = () => {};
      const log = { debug: nop, info: nop, warn: nop, error: nop };
      const informer = new Informer({ client, path: ${JSON.stringify(nadPath(namespace))}, transform: (o) => o.metadata.name, log, name: "child", staleAfterMs: 60000 });
      informer.start();
      const synced = await informer.waitForSync(20000);
      await new Promise((resolve) => setTimeout(resolve, 300));
      const t0 = performance.now();
      await informer.stop();
      console.log(JSON.stringify({ synced, names: informer.list(), stopMs: performance.now() - t0 }));
    `;
    const started2 = performance.now();
    const result = await run(process.execPath, ["--input-type=module", "-e", script], { timeoutMs: 15_000 });
    assert.equal(result.code, 0, result.stderr);
    const out = JSON.parse(result.stdout) as { synced: boolean; names: string[]; stopMs: number };
    assert.equal(out.synced, true);
    assert.deepEqual(out.names.sort(), ["a", "b"]);
    assert.ok(out.stopMs < 1_000, `stop() in the child took ${out.stopMs} ms`);
    assert.ok(performance.now() - started2 < 10_000, "the child exited soon after stop()");
  });
});
