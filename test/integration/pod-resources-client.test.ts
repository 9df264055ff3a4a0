// Multus's own PodResources client (src/devices/pod-resources.ts over its hand-written gRPC, the code
// the thin plugin and the daemon run) in this process, against an independent gRPC implementation
// (grpc-js serving the kubelet's proto: test/devices/pod-resources-server.ts) on a real unix socket.
// What only a long-lived process shows is here: the daemon's shared List, its deadlines, its refresh.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, beforeEach, describe, test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { podResourcesDevices, resetPodResourcesState } from "../../src/devices/pod-resources.ts";
import { GrpcError } from "../../src/devices/grpc-unary.ts";
import { bindUnix, loadProto, service } from "../devices/device-plugin.ts";
import { TestPodResourcesServer } from "../devices/pod-resources-server.ts";

let dir: string;
let server: TestPodResourcesServer;
const long = (): AbortSignal => AbortSignal.timeout(30_000);

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "mt-podres-"));
  server = new TestPodResourcesServer(join(dir, "kubelet.sock"));
  await server.start();
});

after(async () => {
  server.stop();
  await rm(dir, { recursive: true, force: true });
});

beforeEach(() => {
  resetPodResourcesState();
  server.pods.length = 0;
  server.getDisabled = false;
  server.calls.Get = 0;
  server.calls.List = 0;
});

describe("the PodResources client", () => {
  test("Get for the one pod: its devices across containers; a pod the kubelet does not know is undefined, not an error", async () => {
    server.pods.push({ namespace: "ns", name: "p", containers: { a: { "intel.com/x": ["0000:3b:02.1"] }, b: { "intel.com/x": ["0000:3b:02.0"], "intel.com/y": ["y0"] } } });
    assert.deepEqual(await podResourcesDevices(server.socket, "ns", "p", long()), new Map([["intel.com/x", ["0000:3b:02.1", "0000:3b:02.0"]], ["intel.com/y", ["y0"]]]));
    assert.equal(await podResourcesDevices(server.socket, "ns", "nobody", long()), undefined);
    assert.deepEqual(server.calls, { Get: 2, List: 0 });
  });

  test("Get refused (the gate off): learnt once, then one List answers concurrent callers; one caller's deadline does not fail the others", async () => {
    server.getDisabled = true;
    for (const n of ["a", "b", "c"]) server.pods.push({ namespace: "ns", name: n, containers: { m: { "intel.com/x": [`id-${n}`] } } });
    server.pods.push({ namespace: "ns", name: "first", containers: { m: { "intel.com/x": ["f"] } } });
    assert.deepEqual(await podResourcesDevices(server.socket, "ns", "first", long()), new Map([["intel.com/x", ["f"]]]), "the first call learns that Get is refused and lists");
    assert.deepEqual(server.calls, { Get: 1, List: 1 });
    server.calls.List = 0;
    // Expired: the next callers share one new List.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const impatient = new AbortController();
    const calls = ["a", "b", "c"].map((n, i) => podResourcesDevices(server.socket, "ns", n, i === 0 ? impatient.signal : long()));
    impatient.abort();
    const [first, ...rest] = await Promise.allSettled(calls);
    assert.equal(first?.status, "rejected", "the impatient caller gets its own deadline");
    assert.deepEqual(rest.map((r) => (r.status === "fulfilled" ? r.value?.get("intel.com/x") : String(r.reason))), [["id-b"], ["id-c"]], "the others are answered");
    assert.equal(server.calls.Get, 1, "Get is not asked again");
    assert.equal(server.calls.List, 1, "one List for the three");
  });

  test("a pod missing from a shared List (made before it was admitted) gets a fresh List", async () => {
    server.getDisabled = true;
    server.pods.push({ namespace: "ns", name: "early", containers: { m: { "intel.com/x": ["e"] } } });
    assert.deepEqual(await podResourcesDevices(server.socket, "ns", "early", long()), new Map([["intel.com/x", ["e"]]]));
    server.pods.push({ namespace: "ns", name: "late", containers: { m: { "intel.com/x": ["l"] } } });
    assert.deepEqual(await podResourcesDevices(server.socket, "ns", "late", long()), new Map([["intel.com/x", ["l"]]]));
    assert.equal(server.calls.List, 2);
  });

  test("a socket that accepts and never answers ends at the request's own deadline; no socket is a connection error", async () => {
    const silent = new grpc.Server();
    silent.addService(service(loadProto("podresources.proto"), "v1.PodResourcesLister").service, { List: () => undefined, Get: () => undefined });
    const socket = join(dir, "silent.sock");
    await bindUnix(silent, socket);
    try {
      const started = Date.now();
      await assert.rejects(podResourcesDevices(socket, "ns", "p", long(), { rpcTimeoutMs: 300 }), (err: unknown) => err instanceof GrpcError && /no answer before the deadline/.test(err.message));
      assert.ok(Date.now() - started < 5000, "well before the operation's budget");
    } finally {
      silent.forceShutdown();
    }
    await assert.rejects(podResourcesDevices(join(dir, "none.sock"), "ns", "p", long()), (err: unknown) => err instanceof GrpcError && err.status === 14 && /cannot connect: connect ENOENT/.test(err.message));
  });
});
