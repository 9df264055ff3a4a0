// What a tenant (a namespace admin writing NADs, anyone creating pods) cannot make the node do,
// tried as a tenant would (docs/security.md has the threat model). Real: kube-apiserver + etcd, the NAD
// CRD and our RBAC, the multus ServiceAccount's token, dist/bin/multus (thin) or dist/bin/multus-shim +
// dist/bin/multus-daemon (thick, MULTUS_TS_MODE=thick: multus-tenant-safety-thick.test.ts), the
// reference plugins, in the bed's node namespace. The node's plugin directory holds Multus's own
// executables next to the plugins, as /opt/cni/bin does on a real node, so a nested multus or
// multus-shim would be found and run. The "tenant's" files (a program, a socket) live in a directory
// of their own, standing in for a pod's emptyDir on the node's disk.
// Each test fails on the engine before the gate (src/cni/delegate-config.ts): the nested multus ran
// the tenant's program, the shim posted to the tenant's socket, host-local wrote where it was told,
// another tenant's network became eth0, /delegate wrote a lock file wherever its container ID pointed
// and ran the plugin in whatever netns it named, and every random NAD type became a metric label.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { chmod, mkdir, mkdtemp, readdir, rm, stat, symlink, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { beforeEach, describe, test, type TestContext } from "node:test";
import { applyYaml, createNamespace, kubectl, useCluster } from "../cluster/harness.ts";
import { postDelegate, socketGet } from "../helpers/daemon.ts";
import { nadYaml, REF_PLUGINS, testDelegatePolicy, useKubeBed, type KubeBed, type TestPod } from "../helpers/kube-bed.ts";
import { listLinks } from "../helpers/netns.ts";
import { binPath, stdoutJson } from "../helpers/run-executable.ts";

const cluster = useCluster();
const useBed = useKubeBed(cluster);
let bed: KubeBed;
beforeEach(() => {
  bed = useBed();
});

const mode = process.env["MULTUS_TS_MODE"] === "thick" ? "thick" : "thin";
const exists = (path: string): Promise<boolean> => stat(path).then(() => true, () => false);

/** /opt/cni/bin as a node has it: the reference plugins, multus and multus-shim (and an alias, when asked). */
async function nodeBinDir(t: TestContext, aliases: [name: string, of: "multus" | "multus-shim"][] = []): Promise<string> {
  const dir = join(bed.state, "opt-cni-bin");
  await mkdir(dir, { recursive: true });
  for (const p of await readdir(REF_PLUGINS)) await symlink(join(REF_PLUGINS, p), join(dir, p)).catch(() => undefined);
  for (const [name, of] of [["multus", "multus"], ["multus-shim", "multus-shim"], ...aliases] as const) await symlink(binPath(of), join(dir, name)).catch(() => undefined);
  t.diagnostic(`plugin directory ${dir}: the reference plugins, multus, multus-shim${aliases.map(([a, of]) => `, ${a} (-> ${of})`).join("")}`);
  return dir;
}

/** The Multus config with `policy`: in thick mode the daemon config's keys win, so the daemon is restarted with it. */
async function withPolicy(policy: Record<string, unknown>, extra: Record<string, unknown> = {}): Promise<string> {
  if (bed.mode === "thick") {
    await bed.daemon?.stop();
    await bed.startDaemon({ delegatePolicy: policy });
  }
  return bed.conf({ ...extra, delegatePolicy: policy });
}

/** A tenant's directory with a program that leaves a mark when it runs (a valid CNI plugin otherwise). */
async function tenantProgram(t: TestContext): Promise<{ dir: string; ran: () => Promise<boolean> }> {
  const dir = await mkdtemp(join(tmpdir(), "mt-tenant-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const mark = join(dir, "ran-as-root");
  await writeFile(join(dir, "evil"), `#!/bin/sh\ntouch '${mark}'\necho '{"cniVersion":"1.0.0","interfaces":[],"ips":[]}'\n`);
  await chmod(join(dir, "evil"), 0o755);
  return { dir, ran: () => exists(mark) };
}

/** A tenant's socket (`<dir>/multus.sock`, where a shim would post): what reached it, and an answer that would satisfy it. */
async function tenantSocket(t: TestContext): Promise<{ dir: string; received: string[] }> {
  const dir = await mkdtemp(join(tmpdir(), "mt-tenant-sock-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const received: string[] = [];
  const server: Server = createServer((s) => {
    s.on("data", (d: Buffer) => received.push(d.toString("utf8")));
    s.end("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  });
  await new Promise<void>((resolve) => server.listen(join(dir, "multus.sock"), resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => { resolve(); })));
  return { dir, received };
}

async function expectRefused(p: TestPod, conf: string, message: RegExp): Promise<string> {
  const add = await bed.cni("ADD", p, { conf });
  assert.equal(add.code, 1, `ADD must fail: ${add.stdout}${add.stderr}`);
  const err = stdoutJson(add);
  assert.match(String(err["msg"]), message);
  assert.deepEqual([...(await bed.podInterfaces(p)).keys()], [], "nothing attached");
  assert.equal((await bed.cni("DEL", p, { conf })).code, 0, "the runtime's DEL after the failed ADD succeeds");
  assert.deepEqual(await bed.residue(p), [], "and leaves nothing");
  return String(err["msg"]);
}

describe(`what a tenant's NAD or pod cannot make the node do (${mode} mode)`, () => {
  test("a NAD whose type is multus cannot make the node run the tenant's program (binDir, delegates from the tenant's directory)", async (t) => {
    const bin = await nodeBinDir(t);
    const tenant = await tenantProgram(t);
    const ns = await createNamespace(t);
    await applyYaml(nadYaml(ns, "nest", { cniVersion: "1.0.0", type: "multus", binDir: tenant.dir, cniDir: join(tenant.dir, "cni"), logFile: join(tenant.dir, "log"), delegates: [{ cniVersion: "1.0.0", name: "evil", type: "evil" }] }));
    const p = await bed.createPod(ns, "nest");
    const msg = await expectRefused(p, bed.conf({ binDir: bin }), new RegExp(`NetworkAttachmentDefinition ${ns}/nest: spec\\.config plugins\\[0\\]\\.type is "multus", one of Multus's own programs`));
    t.diagnostic(msg);
    assert.equal(await tenant.ran(), false, "the tenant's program never ran");
    assert.deepEqual(await readdir(tenant.dir), ["evil"], "nothing was written in the tenant's directory (no cniDir, no log)");
    const ev = await bed.events(p);
    assert.ok(ev.some((e) => e.startsWith("Warning NetworkAttachmentFailed:") && e.includes("one of Multus's own programs")), ev.join(" | "));
  });

  test("nor by hiding multus as the IPAM of a bridge (also spelt \"IPAM\": {\"Type\": …}, as Go plugins read it), or multus-daemon in a list", async (t) => {
    const bin = await nodeBinDir(t);
    const ns = await createNamespace(t);
    await applyYaml(nadYaml(ns, "ipam-nest", { cniVersion: "1.0.0", type: "bridge", bridge: "mt-nest0", ipam: { type: "multus", delegates: [{ type: "evil" }] } }) + "---\n" + nadYaml(ns, "list-nest", { cniVersion: "1.0.0", plugins: [{ type: "bridge", bridge: "mt-nest1" }, { type: "multus-daemon" }] }));
    await expectRefused(await bed.createPod(ns, "ipam-nest", "p1"), bed.conf({ binDir: bin }), /plugins\[0\]\.ipam\.type is "multus"/);
    await expectRefused(await bed.createPod(ns, "list-nest", "p2"), bed.conf({ binDir: bin }), /plugins\[1\]\.type is "multus-daemon"/);
    // The reference plugins are Go: encoding/json reads "IPAM"/"Type" as ipam/type, so bridge would run
    // that IPAM. The gate matches keys as they do.
    const tenant = await tenantProgram(t);
    await applyYaml(nadYaml(ns, "case-nest", { cniVersion: "1.0.0", type: "bridge", bridge: "mt-nest2", IPAM: { Type: "multus", binDir: tenant.dir, delegates: [{ cniVersion: "1.0.0", name: "evil", type: "evil" }] } }));
    await expectRefused(await bed.createPod(ns, "case-nest", "p3"), bed.conf({ binDir: bin }), /plugins\[0\]\.IPAM\.Type is "multus", one of Multus's own programs/);
    assert.equal(await tenant.ran(), false);
  });

  test("a NAD whose type is multus-shim cannot send the runtime's request to a socket the tenant chose", async (t) => {
    const bin = await nodeBinDir(t);
    const { dir, received } = await tenantSocket(t);
    const ns = await createNamespace(t);
    await applyYaml(nadYaml(ns, "shim", { cniVersion: "1.0.0", type: "multus-shim", daemonSocketDir: dir }));
    const p = await bed.createPod(ns, "shim");
    await expectRefused(p, bed.conf({ binDir: bin }), /plugins\[0\]\.type is "multus-shim", one of Multus's own programs/);
    assert.deepEqual(received, [], "the tenant's socket got nothing (no environment, no config, no token)");
  });

  test("a multus started by a delegate under another name (an alias in the plugin directory) refuses to run", async (t) => {
    const bin = await nodeBinDir(t, [["nested-net", "multus"]]);
    const tenant = await tenantProgram(t);
    const ns = await createNamespace(t);
    // The gate knows Multus's programs by name; an alias reaches the multi-call binary anyway, and the
    // marker in every delegate's environment makes it refuse before it reads its config.
    await writeFile(join(bed.confDir, "40-alias.conf"), JSON.stringify({ cniVersion: "1.0.0", name: "alias-net", type: "nested-net", binDir: tenant.dir, delegates: [{ cniVersion: "1.0.0", name: "evil", type: "evil" }] }));
    const p = await bed.createPod(ns, undefined);
    const msg = await expectRefused(p, bed.conf({ binDir: bin, clusterNetwork: "alias-net" }), /multus was started as a delegate of Multus \(MULTUS_TS_DELEGATE_OF=\d+ in its environment\)/);
    t.diagnostic(msg);
    assert.equal(await tenant.ran(), false);
  });

  test("nor a multus-shim under another name: it refuses under the delegate marker before it touches the socket its config names", async (t) => {
    const bin = await nodeBinDir(t, [["shim-alias", "multus-shim"]]);
    const { dir, received } = await tenantSocket(t);
    const ns = await createNamespace(t);
    await applyYaml(nadYaml(ns, "shim-alias", { cniVersion: "1.0.0", type: "shim-alias", daemonSocketDir: dir, daemonReadyTimeoutSeconds: 1 }));
    // The gate would refuse the socket's directory (a host path); allowed here, so that the shim's own check is what is tried.
    const conf = await withPolicy({ allowedHostPaths: [`${bed.state}/`, `${dir}/`] }, { binDir: bin });
    await expectRefused(await bed.createPod(ns, "shim-alias"), conf, /multus-shim was started as a delegate of Multus \(MULTUS_TS_DELEGATE_OF=\d+ in its environment\)/);
    assert.deepEqual(received, [], "the socket got nothing");
  });

  test("host-local cannot be told to write its leases outside delegatePolicy.allowedHostPaths (nor a path climbing out of them)", async (t) => {
    const ns = await createNamespace(t);
    const victim = join(tmpdir(), `mt-victim-${randomBytes(4).toString("hex")}`);
    t.after(() => rm(victim, { recursive: true, force: true }));
    await applyYaml(
      nadYaml(ns, "outside", { cniVersion: "1.0.0", type: "bridge", bridge: "mt-out0", ipam: { type: "host-local", subnet: "10.90.0.0/24", dataDir: victim } }) +
        "---\n" +
        nadYaml(ns, "climb", { cniVersion: "1.0.0", type: "bridge", bridge: "mt-out1", ipam: { type: "host-local", subnet: "10.91.0.0/24", dataDir: `${bed.ipamDir}/../../${victim.split("/").pop() ?? ""}` } }),
    );
    await expectRefused(await bed.createPod(ns, "outside", "p1"), bed.conf(), /plugins\[0\]\.ipam\.dataDir is ".*": a directory the plugin writes in \(host-local's leases, which its GC deletes; .*\), a host path; .*delegatePolicy\.allowedHostPaths/);
    await expectRefused(await bed.createPod(ns, "climb", "p2"), bed.conf(), /plugins\[0\]\.ipam\.dataDir/);
    assert.equal(await exists(victim), false, "nothing was created where the NAD pointed");
  });

  test("delegatePolicy.allowedTypes limits what a tenant's NAD may run; the administrator's cluster network is not limited", async (t) => {
    const ns = await createNamespace(t);
    const policy = { ...testDelegatePolicy(bed.state), allowedTypes: ["macvlan", "static"] };
    const conf = await withPolicy(policy);
    await applyYaml(
      nadYaml(ns, "bridged", { cniVersion: "1.0.0", type: "bridge", bridge: "mt-typ0", ipam: { type: "host-local", subnet: "10.92.0.0/24", dataDir: bed.ipamDir } }) +
        "---\n" +
        nadYaml(ns, "mv", { cniVersion: "1.0.0", type: "macvlan", master: "lan0", mode: "bridge", ipam: { type: "static", addresses: [{ address: "10.20.0.60/24" }] } }),
    );
    await expectRefused(await bed.createPod(ns, "bridged", "p1"), conf, /plugins\[0\]\.type is "bridge", which is not in the Multus config's delegatePolicy\.allowedTypes \("macvlan", "static"\)/);
    const ok = await bed.createPod(ns, "mv", "p2");
    const add = await bed.cni("ADD", ok, { conf });
    assert.equal(add.code, 0, add.stdout + add.stderr);
    assert.deepEqual([...(await bed.podInterfaces(ok)).keys()].sort(), ["eth0", "net1"], "the cluster network (a bridge in the administrator's confDir) and the allowed macvlan");
    assert.equal((await bed.cni("DEL", ok, { conf })).code, 0);
    assert.deepEqual(await bed.residue(ok), []);
  });

  test("NPWG-27 namespaceIsolation covers the default-network override: another tenant's NAD cannot become the pod's eth0", async (t) => {
    const ns = await createNamespace(t);
    const other = await createNamespace(t);
    await applyYaml(nadYaml(other, "theirs", { cniVersion: "1.0.0", type: "bridge", bridge: "mt-iso0", ipam: { type: "host-local", subnet: "10.93.0.0/24", dataDir: bed.ipamDir } }));
    const p = await bed.createPod(ns, undefined);
    await kubectl(["annotate", "pod", "-n", ns, p.name, `v1.multus-cni.io/default-network=${other}/theirs`]);
    const msg = await expectRefused(p, bed.conf({ namespaceIsolation: true }), new RegExp(`pod ${ns}/p: v1\\.multus-cni\\.io/default-network names network ${other}/theirs, in namespace "${other}", but namespaceIsolation lets this pod use networks only from "${ns}", "kube-system", "default"`));
    t.diagnostic(msg);
  });
});

/** The daemon's answer to a hot-plug request, its body decoded. */
async function delegate(socketPath: string, body: unknown): Promise<{ status: number; json: { code?: number; msg?: string; details?: string } }> {
  const r = await postDelegate(socketPath, body);
  return { status: r.status, json: r.body === "" ? {} : (JSON.parse(r.body) as { code?: number; msg?: string; details?: string }) };
}

if (mode === "thick") describe("the daemon's hot-plug socket (/delegate) takes nothing on trust", () => {
  test("a container ID that is a path, a netns that is not the sandbox's, Multus as the network, a bad address: each refused before anything is written or run", async (t) => {
    const b = bed;
    const ns = await createNamespace(t);
    const p: TestPod = await b.createPod(ns, undefined);
    assert.equal((await b.cni("ADD", p, { conf: b.conf() })).code, 0);
    const sock = join(b.socketDir, "multus.sock");
    const macvlan = Buffer.from(JSON.stringify({ cniVersion: "1.0.0", name: "hot", type: "macvlan", master: "lan0", mode: "bridge", capabilities: { ips: true }, ipam: { type: "static" } })).toString("base64");
    const env = (over: Record<string, string> = {}): Record<string, string> => ({
      CNI_COMMAND: "ADD", CNI_CONTAINERID: p.containerId, CNI_NETNS: p.netns.path, CNI_IFNAME: "net5", CNI_PATH: "/usr/lib/cni",
      CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=${p.namespace};K8S_POD_NAME=${p.name};K8S_POD_INFRA_CONTAINER_ID=${p.containerId};K8S_POD_UID=${p.uid}`,
      ...over,
    });

    // 1. CNI_CONTAINERID becomes a lock and a journal path: a path in it must never reach the disk.
    const escape = `mt-hotplug-escape-${randomBytes(4).toString("hex")}`;
    const traversal = await delegate(sock, { env: env({ CNI_CONTAINERID: `../../../../../../tmp/${escape}` }), config: macvlan, interfaceAttributes: { ips: ["10.20.0.70/24"] } });
    assert.equal(traversal.status, 400);
    assert.match(traversal.json.msg ?? "", /invalid characters in containerID/);
    for (const suffix of [".lock", ".json"]) assert.equal(await exists(join("/tmp", `${escape}${suffix}`)), false, `no /tmp/${escape}${suffix}`);
    assert.equal(await exists(resolve(b.cniDir, "locks", `../../../../../../tmp/${escape}.lock`)), false);

    // 2. The netns must be the sandbox's own (another namespace would get the interface).
    const lanBefore = (await listLinks(b.lan.name)).map((l) => l.ifname).sort();
    const otherNetns = await delegate(sock, { env: env({ CNI_NETNS: b.lan.path }), config: macvlan, interfaceAttributes: { ips: ["10.20.0.71/24"] } });
    assert.equal(otherNetns.status, 400);
    assert.match(otherNetns.json.msg ?? "", /CNI_NETNS ".*" is not the sandbox's network namespace/);
    assert.deepEqual((await listLinks(b.lan.name)).map((l) => l.ifname).sort(), lanBefore, "nothing was made in the other namespace");

    // 3. The config passes the gate as a tenant's.
    const nested = await delegate(sock, { env: env(), config: Buffer.from(JSON.stringify({ cniVersion: "1.0.0", name: "n", type: "multus", delegates: [{ type: "bridge" }] })).toString("base64") });
    assert.equal(nested.status, 400);
    assert.equal(nested.json.details, "MULTUS_ERR_DELEGATE_REFUSED");
    assert.match(nested.json.msg ?? "", /the hot-plug request's network config plugins\[0\]\.type is "multus", one of Multus's own programs/);

    // 4. Attributes are addresses.
    const badIp = await delegate(sock, { env: env(), config: macvlan, interfaceAttributes: { ips: ["10.20.0.72/24; rm -rf /"] } });
    assert.equal(badIp.status, 400);
    assert.match(badIp.json.msg ?? "", /interfaceAttributes\.ips has "10\.20\.0\.72\/24; rm -rf \/", which is not an IP address/);

    assert.deepEqual([...(await b.podInterfaces(p)).keys()].sort(), ["eth0"], "the pod got nothing from any of them");
    // The same sandbox's own namespace, named as it is: accepted (the controller's normal call).
    const good = await delegate(sock, { env: env(), config: macvlan, interfaceAttributes: { ips: ["10.20.0.73/24"] } });
    assert.equal(good.status, 200, JSON.stringify(good.json));
    assert.deepEqual((await b.podInterfaces(p)).get("net5")?.ips, ["10.20.0.73"]);
    assert.equal((await b.cni("DEL", p, { conf: b.conf() })).code, 0);
    assert.deepEqual(await b.residue(p), []);
  });
});

if (mode === "thick") describe("metrics a tenant cannot grow", () => {
  test("NADs of random plugin types add no label values: the per-plugin series stay bounded (types the node has, else \"other\")", async (t) => {
    const b = bed;
    const ns = await createNamespace(t);
    const count = 24;
    const types = Array.from({ length: count }, (_, i) => `t${String(i)}-${randomBytes(24).toString("hex")}`);
    await applyYaml(types.map((type, i) => nadYaml(ns, `r${String(i)}`, { cniVersion: "1.0.0", type })).join("---\n"));
    await applyYaml(
      types
        .map((_, i) => `apiVersion: v1
kind: Pod
metadata: { name: p${String(i)}, namespace: ${ns}, annotations: { "k8s.v1.cni.cncf.io/networks": "r${String(i)}" } }
spec: { nodeName: mt-node, containers: [{ name: c, image: busybox }] }
`)
        .join("---\n"),
    );
    const uids = new Map(
      (JSON.parse(await kubectl(["get", "pods", "-n", ns, "-o", "json"])) as { items: { metadata: { name: string; uid: string } }[] }).items.map((i) => [i.metadata.name, i.metadata.uid]),
    );
    const pods: TestPod[] = [];
    for (let i = 0; i < count; i++) pods.push(await b.sandbox(ns, `p${String(i)}`, uids.get(`p${String(i)}`) ?? ""));
    for (const p of pods) {
      const add = await b.cni("ADD", p, { conf: b.conf() });
      assert.equal(add.code, 1, "no plugin of that type on the node");
      assert.match(add.stdout, /failed to find plugin/);
    }
    const text = (await socketGet(join(b.socketDir, "multus.sock"), "/metrics")).body;
    const labels = new Set([...text.matchAll(/^multus_cni_plugin_execution(?:_total|_duration_seconds_count)\{plugin="([^"]*)"/gm)].map((m) => m[1] ?? ""));
    t.diagnostic(`plugin label values after ${String(count)} NADs of random types: ${[...labels].join(", ")}`);
    assert.deepEqual([...labels].sort(), ["bridge", "other"], "the cluster network's real type, and \"other\" for every type the node does not have");
    assert.match(text, new RegExp(`multus_cni_plugin_execution_total\\{plugin="other",command="ADD",result="error"\\} ${String(count)}\\b`));
    for (const p of pods) {
      assert.equal((await b.cni("DEL", p, { conf: b.conf() })).code, 0);
      assert.deepEqual(await b.residue(p), []);
    }
  });
});
