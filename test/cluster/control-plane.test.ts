// The control plane itself: the pinned release, readiness, loopback-only listeners, the DRA v1
// API, idempotent `up`, and a real ServiceAccount token behind the multus kubeconfig.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { describe, it } from "node:test";
import * as v from "valibot";
import { clusterPaths, kubectl, repoRoot, run, startCluster, useCluster } from "./harness.ts";

const cluster = useCluster();

async function pinnedKubernetesVersion(): Promise<string> {
  const goMod = await readFile(`${repoRoot}test/cluster/k8s-build/go.mod`, "utf8");
  const version = /^\s*k8s\.io\/kubernetes (v1\.\d+\.\d+)\b/m.exec(goMod)?.[1];
  assert.ok(version !== undefined, "k8s-build/go.mod pins no k8s.io/kubernetes version");
  return version;
}

/** Local addresses of TCP sockets in LISTEN state on `port`, from /proc/net/tcp{,6}. */
async function listenAddresses(port: number): Promise<string[]> {
  const portHex = port.toString(16).toUpperCase().padStart(4, "0");
  const addresses: string[] = [];
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    const lines = (await readFile(table, "utf8")).split("\n").slice(1);
    for (const line of lines) {
      const [, local, , state] = line.trim().split(/\s+/);
      if (local === undefined || state !== "0A") continue; // 0A = TCP_LISTEN
      const [address, localPort] = local.split(":");
      if (localPort === portHex && address !== undefined) addresses.push(address);
    }
  }
  return addresses;
}

const versionSchema = v.object({ serverVersion: v.object({ gitVersion: v.string() }) });
const apiResourceListSchema = v.object({
  groupVersion: v.string(),
  resources: v.array(v.object({ name: v.string(), namespaced: v.boolean() })),
});
const selfSubjectReviewSchema = v.object({
  status: v.object({ userInfo: v.object({ username: v.string(), groups: v.array(v.string()) }) }),
});

describe("control plane", () => {
  it("serves the Kubernetes release pinned in k8s-build/go.mod", async () => {
    const expected = await pinnedKubernetesVersion();
    const version = v.parse(versionSchema, JSON.parse(await kubectl(["version", "-o", "json"])));
    assert.equal(version.serverVersion.gitVersion, expected);
  });

  it("answers /readyz and /livez with ok", async () => {
    assert.equal((await kubectl(["get", "--raw", "/readyz"])).trim(), "ok");
    assert.equal((await kubectl(["get", "--raw", "/livez"])).trim(), "ok");
  });

  it("listens on 127.0.0.1 only (apiserver, etcd client and peer ports)", async () => {
    const apiserverPort = Number(process.env["MULTUS_TS_APISERVER_PORT"] ?? 16443);
    const etcdPort = Number(process.env["MULTUS_TS_ETCD_PORT"] ?? 12379);
    for (const port of [apiserverPort, etcdPort, etcdPort + 1]) {
      const addresses = await listenAddresses(port);
      assert.ok(addresses.length > 0, `nothing listens on port ${port}`);
      // /proc/net/tcp writes 127.0.0.1 as 0100007F (little-endian); a wildcard would be 00000000.
      assert.deepEqual([...new Set(addresses)], ["0100007F"], `port ${port} listens on ${addresses.join(", ")}`);
    }
  });

  it("serves resource.k8s.io/v1 resourceclaims and resourceslices (DRA v1)", async () => {
    const list = v.parse(apiResourceListSchema, JSON.parse(await kubectl(["get", "--raw", "/apis/resource.k8s.io/v1"])));
    const served = new Map(list.resources.map((r) => [r.name, r.namespaced]));
    assert.equal(served.get("resourceclaims"), true);
    assert.equal(served.has("resourceclaims/status"), true);
    assert.equal(served.get("resourceslices"), false);
    assert.equal(served.get("deviceclasses"), false);
  });

  it("cluster.sh up reuses the running control plane within seconds", async () => {
    const started = performance.now();
    const second = await startCluster();
    const seconds = (performance.now() - started) / 1000;
    assert.equal(second.started, false);
    assert.deepEqual(second.paths, cluster);
    assert.ok(seconds < 10, `reusing took ${seconds.toFixed(1)} s`);
  });

  it("cluster.sh status reports etcd and kube-apiserver running and ready", async () => {
    const status = await run("bash", [`${repoRoot}test/cluster/cluster.sh`, "status"]);
    assert.equal(status.code, 0, status.stdout + status.stderr);
    assert.match(status.stdout, /^etcd:\s+running, pid \d+/m);
    assert.match(status.stdout, /^kube-apiserver:\s+running, pid \d+/m);
    assert.match(status.stdout, /^readyz:\s+ok$/m);
  });

  it("the multus kubeconfig authenticates as system:serviceaccount:kube-system:multus with a token", async () => {
    const kubeconfig = await readFile(clusterPaths().multusKubeconfig, "utf8");
    assert.match(kubeconfig, /^\s+token: \S+$/m, "expected a bearer token, not a client certificate");
    assert.doesNotMatch(kubeconfig, /client-certificate/);
    const review = v.parse(
      selfSubjectReviewSchema,
      JSON.parse(await kubectl(["auth", "whoami", "-o", "json"], { kubeconfig: cluster.multusKubeconfig })),
    );
    assert.equal(review.status.userInfo.username, "system:serviceaccount:kube-system:multus");
    assert.ok(review.status.userInfo.groups.includes("system:serviceaccounts:kube-system"));
  });

  it("the admin kubeconfig is in system:masters", async () => {
    const review = v.parse(selfSubjectReviewSchema, JSON.parse(await kubectl(["auth", "whoami", "-o", "json"])));
    assert.ok(review.status.userInfo.groups.includes("system:masters"));
  });
});
