// multusctl diagnose against real components: the real kube-apiserver (the pod, its NADs and its
// network-status), dist/bin/multus driven through the CNI protocol as a runtime does (the kube bed:
// a node network namespace, pod sandboxes as further namespaces, the reference bridge and host-local
// plugins, a temporary cniDir), and dist/bin/multusctl run in the node's namespace with the bed's
// Multus config (--config) and the multus ServiceAccount's kubeconfig. What diagnose reports is
// checked against what the test broke; what --repair did, against the filesystem.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { beforeEach, describe, test } from "node:test";
import { applyYaml, createNamespace, kubectl, repoRoot, useCluster } from "../cluster/harness.ts";
import { nadYaml, useKubeBed, type KubeBed } from "../helpers/kube-bed.ts";
import { deleteNetns, execInNetns, type RunResult } from "../helpers/netns.ts";
import { binPath } from "../helpers/run-executable.ts";

const cluster = useCluster();
const useBed = useKubeBed(cluster, { mode: "thin" });
let bed: KubeBed;
let confFile: string;
let devInfo: string;

beforeEach(async () => {
  bed = useBed();
  // The bed's config, with a device-info directory of its own (the default is the machine's).
  devInfo = join(bed.state, "devinfo");
  confFile = join(bed.state, "multus.conf");
  await writeFile(confFile, bed.conf({ deviceInfoDir: devInfo }));
});

const conf = (): string => bed.conf({ deviceInfoDir: devInfo });

/** dist/bin/multusctl in the node's namespace (where the API bridge and the plugins' bridges are). */
async function multusctl(args: readonly string[]): Promise<RunResult> {
  const r = await execInNetns(bed.node.name, [binPath("multusctl"), "--config", confFile, "--kubeconfig", bed.kubeconfig, ...args], { allowFail: true, timeoutMs: 120_000 });
  return r;
}

interface FindingJson {
  kind: string;
  subject: string;
  detail: string;
  fix: string;
}

function findingsOf(r: RunResult, key?: "remaining"): FindingJson[] {
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(r.stdout) as Record<string, unknown>;
  } catch {
    throw new Error(`multusctl's stdout is not JSON (exit ${String(r.code)}):\n${r.stdout}\nstderr:\n${r.stderr}`);
  }
  const report = (key === undefined ? json : json[key]) as { findings: FindingJson[] };
  return report.findings;
}

const bridgeNad = (ns: string): string =>
  nadYaml(ns, "bridge-net", { cniVersion: "1.0.0", type: "bridge", bridge: "mt-dgbr1", ipam: { type: "host-local", subnet: "10.31.0.0/24", dataDir: bed.ipamDir } });

/** Every lease file under host-local's data directory, with its owner. */
async function leases(): Promise<string[]> {
  const out: string[] = [];
  for (const net of await readdir(bed.ipamDir).catch(() => [])) {
    for (const f of await readdir(join(bed.ipamDir, net))) {
      if (f === "lock" || f.startsWith("last_reserved_ip")) continue;
      out.push(`${net}/${f} ${(await readFile(join(bed.ipamDir, net, f), "utf8")).split(/\r?\n/)[0] ?? ""}`);
    }
  }
  return out;
}

async function filesUnder(dir: string): Promise<string[]> {
  return (await readdir(dir).catch(() => [])).filter((f) => !f.startsWith(".node.lock"));
}

describe("multusctl diagnose (dist/bin/multusctl, real API server, real plugins)", () => {
  test("diagnose pod: a healthy pod has no drift (exit 0); an interface removed by hand is reported with its fix (exit 1)", async (t) => {
    const ns = await createNamespace(t);
    await applyYaml(bridgeNad(ns));
    const p = await bed.createPod(ns, "bridge-net");
    const add = await bed.cni("ADD", p, { conf: conf() });
    assert.equal(add.code, 0, add.stdout + add.stderr);

    const healthy = await multusctl(["diagnose", "pod", p.name, "-n", ns, "-o", "json"]);
    assert.equal(healthy.code, 0, healthy.stdout + healthy.stderr);
    assert.deepEqual(findingsOf(healthy), []);
    const report = JSON.parse(healthy.stdout) as { sandbox: { containerId: string }; attachments: { network: string; interface: string; recorded: string; actual: string[]; published: string[] }[] };
    assert.equal(report.sandbox.containerId, p.containerId);
    assert.deepEqual(report.attachments.map((a) => [a.network, a.interface, a.recorded]), [["cluster-net", "eth0", "added"], [`${ns}/bridge-net`, "net1", "added"]]);
    for (const a of report.attachments) assert.deepEqual(a.actual, a.published, `${a.interface}: the netns has what network-status says`);
    const table = await multusctl(["diagnose", "pod", p.name, "-n", ns]);
    assert.equal(table.code, 0);
    assert.match(table.stdout, /no drift/);
    t.diagnostic(`\n${table.stdout}`);

    // An interface deleted inside the pod, behind Multus's back.
    await execInNetns(p.netns.name, ["ip", "link", "del", "net1"]);
    const drift = await multusctl(["diagnose", "pod", p.name, "-n", ns, "-o", "json"]);
    assert.equal(drift.code, 1, drift.stdout + drift.stderr);
    const found = findingsOf(drift);
    assert.deepEqual(found.map((f) => [f.kind, f.subject]), [["interface-missing", `${ns}/bridge-net net1`]]);
    assert.match(found[0]?.fix ?? "", new RegExp(`kubectl delete pod -n ${ns} ${p.name}`));
    const driftTable = await multusctl(["diagnose", "pod", p.name, "-n", ns]);
    assert.equal(driftTable.code, 1);
    assert.match(driftTable.stdout, /interface-missing/);
    t.diagnostic(`\n${driftTable.stdout}`);

    assert.equal((await bed.cni("DEL", p, { conf: conf() })).code, 0);
  });

  test("diagnose pod of a legacy pod (legacyNetworks, Network objects of deploy/legacy's CRD): the desired networks come from its Networks; healthy, no drift", async (t) => {
    await kubectl(["apply", "-f", join(repoRoot, "deploy", "legacy", "network-crd.yaml"), "-f", join(repoRoot, "deploy", "legacy", "rbac.yaml")]);
    await kubectl(["wait", "--for=condition=Established", "crd/networks.kubernetes.com", "--timeout=30s"]);
    const ns = await createNamespace(t);
    const network = (name: string, bridge: string, subnet: string): object => ({ apiVersion: "kubernetes.com/v1", kind: "Network", metadata: { name, namespace: ns }, plugin: "bridge", args: JSON.stringify([{ bridge, ipam: { type: "host-local", subnet, dataDir: bed.ipamDir } }]) });
    await applyYaml(JSON.stringify({ apiVersion: "v1", kind: "List", items: [network("legacy-a", "mt-dglg1", "10.32.0.0/24"), network("legacy-b", "mt-dglg2", "10.33.0.0/24")] }));
    await applyYaml(JSON.stringify({ apiVersion: "v1", kind: "Pod", metadata: { name: "legacy", namespace: ns, annotations: { networks: '[{"name":"legacy-a"},{"name":"legacy-b"}]' } }, spec: { nodeName: "mt-node", containers: [{ name: "c", image: "busybox" }] } }));
    const uid = (await kubectl(["get", "pod", "-n", ns, "legacy", "-o", "jsonpath={.metadata.uid}"])).trim();
    const p = await bed.sandbox(ns, "legacy", uid);
    const legacyConf = bed.conf({ deviceInfoDir: devInfo, legacyNetworks: true });
    await writeFile(confFile, legacyConf);
    const add = await bed.cni("ADD", p, { conf: legacyConf });
    assert.equal(add.code, 0, add.stdout + add.stderr);
    const healthy = await multusctl(["diagnose", "pod", "legacy", "-n", ns, "-o", "json"]);
    assert.equal(healthy.code, 0, healthy.stdout + healthy.stderr);
    assert.deepEqual(findingsOf(healthy), []);
    const report = JSON.parse(healthy.stdout) as { attachments: { network: string; interface: string; recorded: string }[] };
    assert.deepEqual(report.attachments.map((a) => [a.network, a.interface, a.recorded]), [[`${ns}/legacy-a`, "eth0", "added"], [`${ns}/legacy-b`, "net0", "added"]]);
    assert.equal((await bed.cni("DEL", p, { conf: legacyConf })).code, 0);
    assert.deepEqual(await bed.residue(p), []);
  });

  test("a static pod whose mirror was recreated (a new UID, the same live sandbox) is neither drift nor an orphan: --repair leaves its sandbox alone", async (t) => {
    const ns = await createNamespace(t);
    await applyYaml(bridgeNad(ns));
    const staticUid = "44444444-4444-4444-4444-444444444444";
    const mirror = JSON.stringify({ apiVersion: "v1", kind: "Pod", metadata: { name: "static-p", namespace: ns, annotations: { "kubernetes.io/config.source": "file", "kubernetes.io/config.mirror": staticUid, "k8s.v1.cni.cncf.io/networks": "bridge-net" } }, spec: { nodeName: "mt-node", containers: [{ name: "c", image: "busybox" }] } });
    await applyYaml(mirror);
    const p = await bed.sandbox(ns, "static-p", staticUid);
    assert.equal((await bed.cni("ADD", p, { conf: conf() })).code, 0);
    // The mirror pod deleted and made again (as the kubelet does): another UID in the API, the same sandbox.
    await kubectl(["delete", "pod", "static-p", "-n", ns, "--grace-period=0", "--force", "--wait=true"]);
    await applyYaml(mirror);
    const node = await multusctl(["diagnose", "node", "-o", "json"]);
    assert.deepEqual(findingsOf(node).filter((f) => f.subject === p.containerId || f.detail.includes(p.containerId)), [], node.stdout);
    await multusctl(["diagnose", "node", "--repair", "-o", "json"]);
    assert.deepEqual([...(await bed.podInterfaces(p)).keys()].sort(), ["eth0", "net1"], "the live sandbox keeps its interfaces");
    assert.ok((await readdir(join(bed.cniDir, "attachments"))).some((f) => f.startsWith(p.containerId)), "and its journal");
    const pod = await multusctl(["diagnose", "pod", "static-p", "-n", ns, "-o", "json"]);
    assert.equal(pod.code, 0, pod.stdout + pod.stderr);
    assert.deepEqual(findingsOf(pod), []);
    assert.equal((await bed.cni("DEL", p, { conf: conf() })).code, 0);
    assert.deepEqual(await bed.residue(p), []);
  });

  test("diagnose node: a sandbox whose netns went without a DEL is an orphan with its leases; --repair runs the engine's DEL and leaves nothing", async (t) => {
    const ns = await createNamespace(t);
    await applyYaml(bridgeNad(ns));
    const p = await bed.createPod(ns, "bridge-net");
    const add = await bed.cni("ADD", p, { conf: conf() });
    assert.equal(add.code, 0, add.stdout + add.stderr);
    const clean = await multusctl(["diagnose", "node", "-o", "json"]);
    assert.equal(clean.code, 0, clean.stdout + clean.stderr);
    assert.deepEqual(findingsOf(clean), []);

    // A crashed runtime: the sandbox's namespace is gone and no DEL ever came.
    await deleteNetns(p.netns.name);
    const held = await leases();
    assert.equal(held.filter((l) => l.endsWith(` ${p.containerId}`)).length, 2, `the pod's two leases are still held: ${held.join(", ")}`);

    const orphan = await multusctl(["diagnose", "node", "-o", "json"]);
    assert.equal(orphan.code, 1, orphan.stdout + orphan.stderr);
    const found = findingsOf(orphan);
    assert.deepEqual(found.filter((f) => f.kind === "orphan-journal").map((f) => f.subject), [p.containerId]);
    assert.equal(found.filter((f) => f.kind === "orphan-lease").length, 2, JSON.stringify(found, null, 2));
    assert.ok(found.every((f) => f.kind === "orphan-journal" || f.kind === "orphan-lease"), JSON.stringify(found, null, 2));
    t.diagnostic(`\n${(await multusctl(["diagnose", "node"])).stdout}`);

    const repair = await multusctl(["diagnose", "node", "--repair"]);
    t.diagnostic(`\n${repair.stdout}${repair.stderr}`);
    assert.equal(repair.code, 0, repair.stdout + repair.stderr);
    assert.match(repair.stdout, new RegExp(`DEL of container ${p.containerId} \\(netns gone\\)\\s+done`));
    // Nothing left: leases released by host-local's DEL, journal, result cache and lock file gone.
    assert.deepEqual((await leases()).filter((l) => l.endsWith(` ${p.containerId}`)), []);
    assert.deepEqual(await filesUnder(join(bed.cniDir, "attachments")), []);
    assert.deepEqual((await filesUnder(join(bed.cniDir, "results"))).filter((f) => f.includes(p.containerId)), []);
    assert.deepEqual(await filesUnder(join(bed.cniDir, "locks")), []);

    const again = await multusctl(["diagnose", "node", "-o", "json"]);
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.deepEqual(findingsOf(again), []);
  });

  test("diagnose node: a lock file left with the note of a dead multus is reported stale; --repair removes it under the node lock", async (t) => {
    // A PID that existed and is gone, with its real start time (as a holder's note records it).
    const child = spawn("sleep", ["0.01"]);
    const pid = child.pid ?? 0;
    const start = (await readFile(`/proc/${String(pid)}/stat`, "utf8").catch(() => "")).split(") ")[1]?.split(" ")[19] ?? "";
    await new Promise((resolve) => child.on("close", resolve));
    const locks = join(bed.cniDir, "locks");
    await mkdir(locks, { recursive: true });
    const lockFile = join(locks, "c0ffee.lock");
    await writeFile(lockFile, JSON.stringify({ pid, start, command: "ADD", containerId: "c0ffee", since: new Date(0).toISOString(), deadline: 0, delegates: [] }));

    const found = await multusctl(["diagnose", "node", "-o", "json"]);
    assert.equal(found.code, 1, found.stdout + found.stderr);
    const stale = findingsOf(found);
    assert.deepEqual(stale.map((f) => [f.kind, f.subject]), [["stale-lock", lockFile]]);
    assert.match(stale[0]?.detail ?? "", new RegExp(`ADD by pid ${String(pid)} .*\\(dead\\)`));
    t.diagnostic(`\n${(await multusctl(["diagnose", "node"])).stdout}`);

    const repair = await multusctl(["diagnose", "node", "--repair", "-o", "json"]);
    assert.equal(repair.code, 0, repair.stdout + repair.stderr);
    assert.deepEqual(findingsOf(repair, "remaining"), []);
    assert.deepEqual(await filesUnder(locks), []);
  });
  test("diagnose node: a host-local lease no record names is reported; --repair leaves it, --repair --force-leases removes it", async (t) => {
    // The cluster network's lease directory, as host-local keeps it: a file per IP with the container ID and interface.
    const dir = join(bed.ipamDir, "cluster-net");
    await mkdir(dir, { recursive: true });
    const lease = join(dir, "10.88.0.200");
    await writeFile(lease, "ghost0\r\neth0");

    const found = await multusctl(["diagnose", "node", "-o", "json"]);
    assert.equal(found.code, 1, found.stdout + found.stderr);
    assert.deepEqual(findingsOf(found).map((f) => [f.kind, f.subject]), [["unrecorded-lease", lease]]);
    t.diagnostic(`\n${(await multusctl(["diagnose", "node"])).stdout}`);

    const repair = await multusctl(["diagnose", "node", "--repair", "-o", "json"]);
    assert.equal(repair.code, 1, "a lease without a record is not removed without --force-leases");
    assert.deepEqual(findingsOf(repair, "remaining").map((f) => f.kind), ["unrecorded-lease"]);
    assert.equal(await readFile(lease, "utf8"), "ghost0\r\neth0");

    const forced = await multusctl(["diagnose", "node", "--repair", "--force-leases", "-o", "json"]);
    assert.equal(forced.code, 0, forced.stdout + forced.stderr);
    assert.deepEqual(findingsOf(forced, "remaining"), []);
    assert.deepEqual(await leases(), []);
  });
  test("diagnose pod --repair: the pod's earlier sandbox, gone without a DEL, is torn down through the engine; the live one is left alone", async (t) => {
    const ns = await createNamespace(t);
    await applyYaml(bridgeNad(ns));
    const old = await bed.createPod(ns, "bridge-net");
    assert.equal((await bed.cni("ADD", old, { conf: conf() })).code, 0);
    await deleteNetns(old.netns.name);
    // The kubelet's new sandbox for the same pod.
    const now = await bed.sandbox(ns, old.name, old.uid);
    const add = await bed.cni("ADD", now, { conf: conf() });
    assert.equal(add.code, 0, add.stdout + add.stderr);

    const found = await multusctl(["diagnose", "pod", old.name, "-n", ns, "-o", "json"]);
    assert.equal(found.code, 1, found.stdout + found.stderr);
    assert.deepEqual(findingsOf(found).map((f) => [f.kind, f.subject]), [["stale-sandbox", old.containerId]]);

    const repair = await multusctl(["diagnose", "pod", old.name, "-n", ns, "--repair", "-o", "json"]);
    assert.equal(repair.code, 0, repair.stdout + repair.stderr);
    assert.deepEqual(findingsOf(repair, "remaining"), []);
    const owners = (await leases()).map((l) => l.split(" ")[1]);
    assert.deepEqual([...new Set(owners)], [now.containerId], "the old sandbox's leases are released, the live one's kept");
    assert.deepEqual(await filesUnder(join(bed.cniDir, "attachments")), [`${now.containerId}.json`]);
    assert.deepEqual([...(await bed.podInterfaces(now)).keys()].sort(), ["eth0", "net1"]);

    assert.equal((await bed.cni("DEL", now, { conf: conf() })).code, 0);
  });
});
