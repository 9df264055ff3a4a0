// multusctl validate through the real executable (dist/bin/multusctl): the real kube-apiserver
// (test/cluster) for NADs and pods, the real reference plugins (/usr/lib/cni) for VERSION and the
// canary, real network namespaces (the canary runs inside a test namespace standing in for the node,
// so the node's own network is not touched).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { applyYaml, createNamespace, run, useCluster, type RunResult } from "../cluster/harness.ts";
import { binPath } from "../helpers/run-executable.ts";
import { createNetns, deleteNetns } from "../helpers/netns.ts";
import { createSlowWrappers } from "../helpers/slow-wrappers.ts";

const cluster = useCluster();
const PLUGINS = "/usr/lib/cni";
let dir = "";
let config = "";

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "multusctl-validate-"));
  config = join(dir, "multus.conf");
  await writeFile(config, JSON.stringify({ cniVersion: "1.0.0", name: "multus-cni-network", type: "multus", clusterNetwork: "none", binDir: PLUGINS, confDir: join(dir, "net.d") }));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Report {
  networks: { namespace: string; name: string; findings: { severity: string; field: string; code: string; message: string }[]; canary?: { result: { ips?: { address: string }[] }; leftovers: string[]; netns: string; containerId: string; error?: string } }[];
}

function multusctl(args: readonly string[]): Promise<RunResult> {
  return run(binPath("multusctl"), ["--kubeconfig", cluster.adminKubeconfig, "--config", config, ...args], { timeoutMs: 60_000 });
}

function nad(ns: string, name: string, body: string): object {
  return { apiVersion: "k8s.cni.cncf.io/v1", kind: "NetworkAttachmentDefinition", metadata: { name, namespace: ns }, spec: { config: body } };
}

const bridge = (br: string, subnet: string, extra = ""): string => `{"cniVersion":"1.0.0","type":"bridge","bridge":"${br}"${extra},"ipam":{"type":"host-local","subnet":"${subnet}"}}`;

describe("multusctl validate (dist/bin/multusctl, real API server and plugins)", () => {
  test("nad NAME: a JSON typo is fatal with its field and position; Multus as a delegate is refused; a good bridge NAD passes; a missing NAD is exit 1", async (t) => {
    const ns = await createNamespace(t);
    await applyYaml(JSON.stringify({ apiVersion: "v1", kind: "List", items: [
      nad(ns, "typo", '{"cniVersion":"1.0.0","type":"bridge",\n  "bridge":"br0",}'),
      nad(ns, "self", '{"cniVersion":"1.0.0","plugins":[{"type":"bridge"},{"type":"multus"}]}'),
      nad(ns, "good", bridge("mctl-br0", "10.123.1.0/24")),
    ] }));

    const typo = await multusctl(["validate", "nad", "typo", "-n", ns, "-o", "json"]);
    assert.equal(typo.code, 1, typo.stderr);
    const typoReport = JSON.parse(typo.stdout) as Report;
    const f = typoReport.networks[0]?.findings[0];
    assert.equal(f?.severity, "fatal");
    assert.equal(f.field, "spec.config");
    assert.equal(f.code, "MULTUS_ERR_NAD_CONFIG");
    assert.match(f.message, new RegExp(`NetworkAttachmentDefinition ${ns}/typo: spec.config is not valid JSON \\(line 2 column 18`));

    const self = await multusctl(["validate", "nad", "self", "-n", ns, "-o", "json"]);
    assert.equal(self.code, 1, self.stderr);
    const selfFinding = (JSON.parse(self.stdout) as Report).networks[0]?.findings[0];
    assert.equal(selfFinding?.code, "MULTUS_ERR_DELEGATE_REFUSED");
    assert.equal(selfFinding.field, "spec.config.plugins[1].type");

    const good = await multusctl(["validate", "nad", "good", "-n", ns]);
    t.diagnostic(good.stdout);
    assert.equal(good.code, 0, good.stderr);
    assert.match(good.stdout, new RegExp(`${ns}/good\\s+ok`));

    const missing = await multusctl(["validate", "nad", "nosuch", "-n", ns]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /nosuch/);
  });

  test("all -n NS: overlapping ranges warned on both, a missing master and an unknown plugin fatal, a pod's portMappings request without the capability fatal", async (t) => {
    const ns = await createNamespace(t);
    await applyYaml(JSON.stringify({ apiVersion: "v1", kind: "List", items: [
      nad(ns, "left", bridge("mctl-br1", "10.123.2.0/24")),
      nad(ns, "right", bridge("mctl-br2", "10.123.2.128/25")),
      nad(ns, "mv", '{"cniVersion":"1.0.0","type":"macvlan","master":"mctl-nosuch0","mode":"bridge","ipam":{"type":"static","addresses":[{"address":"10.124.0.5/24"}]}}'),
      nad(ns, "unknown", '{"cniVersion":"1.0.0","type":"mctl-frobnicate"}'),
      { apiVersion: "v1", kind: "Pod", metadata: { name: "wants-ports", namespace: ns, annotations: { "k8s.v1.cni.cncf.io/networks": '[{"name":"left","portMappings":[{"hostPort":8080,"containerPort":80,"protocol":"tcp"}]}]' } }, spec: { nodeName: "nowhere", containers: [{ name: "c", image: "busybox:1.35.0" }] } },
    ] }));
    const res = await multusctl(["validate", "all", "-n", ns, "-o", "json"]);
    assert.equal(res.code, 1, res.stderr);
    const report = JSON.parse(res.stdout) as Report;
    const codes = (name: string): string[] => (report.networks.find((n) => n.name === name)?.findings ?? []).map((f) => `${f.severity} ${f.code} ${f.field}`).sort();
    assert.deepEqual(codes("left"), ["fatal MULTUS_ERR_CAPABILITY_MISSING spec.config.capabilities", "warning MULTUS_CHECK_IPAM_OVERLAP spec.config.ipam"]);
    assert.deepEqual(codes("right"), ["warning MULTUS_CHECK_IPAM_OVERLAP spec.config.ipam"]);
    assert.deepEqual(codes("mv"), ["fatal MULTUS_CHECK_INTERFACE_MISSING spec.config.master"]);
    assert.deepEqual(codes("unknown"), ["fatal MULTUS_CHECK_PLUGIN_MISSING spec.config.type"]);
    const table = await multusctl(["validate", "all", "-n", ns]);
    t.diagnostic(table.stdout);
    assert.match(table.stdout, /^NETWORK\s+SEVERITY\s+FIELD\s+CODE\s+MESSAGE\n/);
  });

  test("nad -f FILE (several YAML documents) without any API: each NAD checked, exit 1 for the fatal one", async () => {
    const file = join(dir, "nads.yaml");
    await writeFile(file, [
      "apiVersion: k8s.cni.cncf.io/v1\nkind: NetworkAttachmentDefinition\nmetadata: {name: ok-one, namespace: t}\nspec:\n  config: '" + bridge("mctl-br3", "10.123.3.0/24") + "'",
      "apiVersion: k8s.cni.cncf.io/v1\nkind: NetworkAttachmentDefinition\nmetadata: {name: bad-type, namespace: t}\nspec:\n  config: '{\"cniVersion\":\"1.0.0\",\"type\":\"bridge\",\"mtu\":\"1500\",\"hairpin\":true}'",
    ].join("\n---\n"));
    const res = await run(binPath("multusctl"), ["validate", "nad", "-f", file, "--config", config, "-o", "json"], { timeoutMs: 60_000 });
    assert.equal(res.code, 1, res.stderr);
    const report = JSON.parse(res.stdout) as Report;
    assert.deepEqual(report.networks.map((n) => n.name), ["ok-one", "bad-type"]);
    assert.deepEqual(report.networks[0]?.findings, []);
    assert.deepEqual(report.networks[1]?.findings.map((f) => `${f.severity} ${f.field}`), ["fatal spec.config.mtu", "warning spec.config.hairpin"]);
  });

  test("off a Multus node (no --config, no Multus config on the machine): the node's checks are skipped and said to be, the object's are made, --canary is refused", async () => {
    const file = join(dir, "off-node.yaml");
    await writeFile(file, JSON.stringify({ apiVersion: "v1", kind: "List", items: [
      nad("t", "elsewhere", '{"cniVersion":"1.0.0","type":"no-such-plugin-here","master":"no-such-if0"}'),
      nad("t", "typo", '{"cniVersion":"1.0.0","type":"bridge",}'),
    ] }));
    // A mount namespace of its own hides any /etc/cni of the machine: what a laptop sees.
    const offNode = (args: readonly string[]): Promise<RunResult> =>
      run("unshare", ["--mount", "--propagation", "private", "--", "sh", "-c", 'if [ -d /etc/cni ]; then mount -t tmpfs tmpfs /etc/cni; fi; exec "$0" "$@"', binPath("multusctl"), ...args], { timeoutMs: 60_000 });
    const res = await offNode(["validate", "nad", "-f", file, "-o", "json"]);
    assert.equal(res.code, 1, res.stderr);
    assert.match(res.stderr, /warning: not on a Multus node: the checks of this node \(plugins in binDir, master\/parent interfaces, confDir files, --canary\) are skipped/);
    const report = JSON.parse(res.stdout) as Report;
    assert.deepEqual(report.networks.find((n) => n.name === "elsewhere")?.findings, [], "no plugin or interface finding about the laptop");
    assert.deepEqual(report.networks.find((n) => n.name === "typo")?.findings.map((f) => f.code), ["MULTUS_ERR_NAD_CONFIG"], "the object's own checks still run");
    const canary = await offNode(["validate", "nad", "-f", file, "--canary"]);
    assert.equal(canary.code, 2, canary.stderr);
    assert.match(canary.stderr, /validate --canary runs a real ADD and DEL on this node, and this is not a Multus node/);
  });

  test("-f --canary runs a file's network as a tenant's: a NAD that names kube-system (trusted) with a host path only kube-system may use gets no canary, and nothing is written there", async (t) => {
    const node = await createNetns("mctl-node");
    t.after(() => deleteNetns(node.name));
    const evil = join(dir, "evil-leases");
    const file = join(dir, "trusted-by-claim.yaml");
    await writeFile(file, JSON.stringify(nad("kube-system", "claims-trust", `{"cniVersion":"1.0.0","type":"bridge","bridge":"mctl-br5","ipam":{"type":"host-local","subnet":"10.123.5.0/24","dataDir":"${evil}"}}`)));
    const plain = await run(binPath("multusctl"), ["validate", "nad", "-f", file, "--config", config, "-o", "json"], { timeoutMs: 60_000 });
    assert.equal(plain.code, 0, `without --canary the object is checked as its namespace's: ${plain.stdout}`);
    const res = await run("ip", ["netns", "exec", node.name, "env", `HOME=${dir}`, "KUBECONFIG=", binPath("multusctl"), "validate", "nad", "-f", file, "--config", config, "--canary", "-o", "json"], { timeoutMs: 90_000 });
    assert.equal(res.code, 1, res.stderr + res.stdout);
    const report = (JSON.parse(res.stdout) as Report).networks[0];
    assert.ok(report !== undefined);
    assert.equal(report.canary, undefined, "no canary ran");
    assert.deepEqual(report.findings.map((f) => [f.severity, f.code, f.field]), [["fatal", "MULTUS_CHECK_CANARY", "spec.config.ipam.dataDir"]]);
    assert.match(report.findings[0]?.message ?? "", /^no canary: from a file, the network is run as a tenant's .*apply it and run validate nad NAME --canary$/);
    assert.equal(await readdir(evil).catch(() => "absent"), "absent", "host-local never ran with the file's dataDir");
  });

  test("--canary: a real ADD and DEL of a bridge NAD in a throw-away netns reports the pod's IP and leaves no netns, record or lease", async (t) => {
    const node = await createNetns("mctl-node");
    t.after(() => deleteNetns(node.name));
    const name = `mctl-canary-${node.name.slice(-8)}`;
    const file = join(dir, "canary.yaml");
    await writeFile(file, JSON.stringify(nad("t", name, bridge("mctl-br4", "10.123.4.0/24"))));
    t.after(() => rm(`/var/lib/cni/networks/${name}`, { recursive: true, force: true }));
    // No API here (HOME without a kubeconfig): a -f check needs none.
    const res = await run("ip", ["netns", "exec", node.name, "env", `HOME=${dir}`, "KUBECONFIG=", binPath("multusctl"), "validate", "nad", "-f", file, "--config", config, "--canary", "-o", "json"], { timeoutMs: 90_000 });
    assert.equal(res.code, 0, res.stderr + res.stdout);
    const canary = (JSON.parse(res.stdout) as Report).networks[0]?.canary;
    t.diagnostic(JSON.stringify(canary));
    assert.ok(canary !== undefined);
    assert.equal(canary.error, undefined);
    assert.match(canary.result.ips?.[0]?.address ?? "", /^10\.123\.4\.\d+\/24$/);
    assert.deepEqual(canary.leftovers, []);
    assert.ok(!(await readdir("/var/run/netns")).includes(canary.netns), "the canary's netns is gone");
    for (const lease of await readdir(`/var/lib/cni/networks/${name}`).catch(() => [])) {
      assert.ok(!(await readFile(`/var/lib/cni/networks/${name}/${lease}`, "utf8")).includes(canary.containerId), `lease ${lease} released`);
    }
    const table = await run("ip", ["netns", "exec", node.name, "env", `HOME=${dir}`, "KUBECONFIG=", binPath("multusctl"), "validate", "nad", "-f", file, "--config", config, "--canary"], { timeoutMs: 90_000 });
    t.diagnostic(table.stdout);
    assert.match(table.stdout, /canary\s+\(canary\)\s+MULTUS_CHECK_CANARY\s+ADD\/DEL in netns multusctl-canary-\w+: net1 got 10\.123\.4\.\d+\/24 gw 10\.123\.4\.1; .*nothing left behind/);
  });

  test("a canary killed with -9 mid-ADD leaves its namespace, records and lease; diagnose node lists them and --repair tears them down through the engine, leaving nothing", async (t) => {
    const node = await createNetns("mctl-node");
    t.after(() => deleteNetns(node.name));
    // The network's plugin is a wrapper that sleeps after the real bridge's ADD (test/helpers/slow-wrappers.ts).
    const wrappers = await createSlowWrappers(["w1-bridge"]);
    t.after(() => rm(wrappers, { recursive: true, force: true }));
    await symlink(join(PLUGINS, "host-local"), join(wrappers, "host-local"));
    const marks = await mkdtemp(join(tmpdir(), "mctl-marks-"));
    t.after(() => rm(marks, { recursive: true, force: true }));
    const slowConfig = join(dir, "slow.conf");
    await writeFile(slowConfig, JSON.stringify({ cniVersion: "1.0.0", name: "multus-cni-network", type: "multus", clusterNetwork: "none", binDir: wrappers, cniDir: join(dir, "slow-cni"), confDir: join(dir, "net.d") }));
    const name = `mctl-killed-${node.name.slice(-8)}`;
    t.after(() => rm(`/var/lib/cni/networks/${name}`, { recursive: true, force: true }));
    const file = join(dir, "killed.yaml");
    await writeFile(file, JSON.stringify(nad("t", name, '{"cniVersion":"1.0.0","type":"w1-bridge","bridge":"mctl-br6","ipam":{"type":"host-local","subnet":"10.123.6.0/24"}}')));
    const before = new Set(await readdir("/run"));
    const child = spawn("ip", ["netns", "exec", node.name, "env", `HOME=${dir}`, "KUBECONFIG=", "MT_SLOW_AT=w1:after", "MT_SLEEP=3", `MT_MARKS=${marks}`, binPath("multusctl"), "validate", "nad", "-f", file, "--config", slowConfig, "--canary"], { stdio: "ignore" });
    const exited = new Promise((resolve) => child.once("exit", resolve));
    let started = false;
    for (let i = 0; i < 200 && !started; i++) {
      started = (await readdir(marks)).some((f) => f.endsWith(".w1-bridge.started"));
      if (!started) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(started, "the canary's ADD reached the plugin");
    child.kill("SIGKILL"); // `ip netns exec` execs multusctl: this is its PID
    await exited;
    const records = (await readdir("/run")).filter((n) => n.startsWith("multusctl-canary-") && !before.has(n));
    assert.equal(records.length, 1, "the killed canary left its records");
    const leftover = `/run/${records[0] ?? ""}`;
    const containerId = (await readdir(join(leftover, "attachments")))[0]?.replace(/\.json$/, "") ?? "";
    // Should the test fail before the repair: what the killed canary left goes anyway.
    t.after(async () => {
      await run("ip", ["netns", "delete", containerId]);
      await rm(leftover, { recursive: true, force: true });
    });
    assert.ok((await readdir("/var/run/netns")).includes(containerId), "and its namespace");
    const diagnose = (extra: string[]): Promise<RunResult> => run("ip", ["netns", "exec", node.name, "env", `HOME=${dir}`, "KUBECONFIG=", binPath("multusctl"), "diagnose", "node", "--config", slowConfig, ...extra, "-o", "json"], { timeoutMs: 120_000 });
    const found = await diagnose([]);
    assert.equal(found.code, 1, found.stdout + found.stderr);
    const findings = (JSON.parse(found.stdout) as { findings: { kind: string; subject: string; detail: string }[] }).findings.filter((f) => f.kind === "canary-leftover" && f.subject === leftover);
    assert.equal(findings.length, 1, found.stdout);
    assert.match(findings[0]?.detail ?? "", new RegExp(`records of a multusctl validate --canary that did not finish: ${containerId}: ${name} net1 \\(adding\\)`));
    const repaired = await diagnose(["--repair"]);
    t.diagnostic(repaired.stdout);
    assert.ok(!(await readdir("/run")).includes(records[0] ?? ""), "its records are gone");
    assert.ok(!(await readdir("/var/run/netns")).includes(containerId), "its namespace is gone");
    for (const lease of await readdir(`/var/lib/cni/networks/${name}`).catch(() => [])) {
      assert.ok(!(await readFile(`/var/lib/cni/networks/${name}/${lease}`, "utf8")).includes(containerId), `lease ${lease} released by the canary's DEL`);
    }
    const again = await diagnose([]);
    assert.deepEqual((JSON.parse(again.stdout) as { findings: { kind: string; subject: string }[] }).findings.filter((f) => f.subject === leftover || f.subject.endsWith(containerId)), []);
  });
});
