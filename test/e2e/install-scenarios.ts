// The install scenarios of multus-install.test.ts (which sets the environment first: the node starts
// without Multus). Every test installs with `kubectl apply -k deploy/<mode>`, runs pods from
// examples/ exactly as a user applies them, deletes them, and uninstalls with deploy/uninstall; the
// node's /etc/cni and /opt/cni/bin must then be byte for byte what they were before the install.
import assert from "node:assert/strict";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { describe, test, type TestContext } from "node:test";
import { applyYaml, clusterPaths, kubectl, repoRoot, run, tryKubectl, CommandError } from "../cluster/harness.ts";
import { TestDevicePlugin } from "../devices/device-plugin.ts";
import { helmBinary } from "../helpers/helm-build.ts";
import { createDeviceRig, NETDEVICE_RESOURCE, NETDEVICE_VFS } from "./devices-rig.ts";
import {
  createNamespace,
  createPod,
  eventually,
  networkStatus,
  nodeLinks,
  nodeNatRules,
  podExec,
  podInterfaces,
  useNode,
  waitPodReady,
  type NodeInfo,
} from "./node-harness.ts";
import { applyExample, applyK, cniDirs, deletePods, expectNoResidue, files, installWith, onNode, rollout, SYSTEM, uninstall } from "./install-helpers.ts";

const node = useNode();

function names(ifs: readonly { name: string }[]): string[] {
  return ifs.map((i) => i.name).sort();
}

/** The seed-000 bridge pod, applied from examples/ as is: eth0 on the cluster network, net1 on `mynet`. */
async function seed000(t: TestContext, info: NodeInfo): Promise<string> {
  const namespace = await createNamespace(t);
  await applyExample(namespace, "seed-000-bridge");
  await waitPodReady(namespace, "test-bridge");
  const ifs = await podInterfaces(namespace, "test-bridge");
  assert.deepEqual(names(ifs), ["eth0", "lo", "net1"], "kubectl exec test-bridge -- ip a: eth0 and net1");
  assert.match(ifs.find((i) => i.name === "net1")?.ips[0] ?? "", /^10\.10\.0\.\d+$/, "net1 is on the bridge NAD's subnet");
  assert.match(ifs.find((i) => i.name === "eth0")?.ips[0] ?? "", /^10\.244\.0\.\d+$/, "eth0 is on the cluster network");
  const mynet = (await nodeLinks(info)).find((l) => l.name === "mynet");
  assert.equal(mynet?.kind, "bridge", "ip a show mynet on the node: the bridge exists");
  return namespace;
}

describe("Multus-TS installed with kubectl apply -k on a real node", { concurrency: false }, () => {
  test("INSTALL thick: kubectl apply -k deploy/thick gives a Ready DaemonSet; the seed-000 bridge pod gets eth0 and net1; the examples run unchanged; a NAD without config finds its file in /etc/cni/multus/net.d; uninstall restores /etc/cni and /opt/cni/bin exactly", async (t) => {
    const info = node();
    const before = await cniDirs(info);
    const installed = await installWith(t, "deploy/thick");
    await rollout("multus");
    // The daemon wrote its config in front of the cluster network's, and the initContainer the host executables.
    const conf: unknown = JSON.parse(await readFile(join(info.stateDir, "net.d", "00-multus.conflist"), "utf8"));
    assert.deepEqual((conf as { plugins: { type: string; clusterNetwork: string }[] }).plugins.map((p) => [p.type, p.clusterNetwork]), [["multus-shim", "/etc/cni/net.d/10-bridge.conflist"]]);
    const bin = join(info.stateDir, "cni-bin");
    const [multus, passthru] = await Promise.all([stat(join(bin, "multus")), stat(join(bin, "passthru"))]);
    assert.equal(passthru.ino, multus.ino, "passthru is a hard link to the multi-call multus");
    await stat(join(bin, "multus-shim"));
    // The lock module beside multus on the host (the shim's DEL hand-over takes locks through it),
    // and the daemon's own in the image.
    await stat(join(bin, "multus-native.node"));
    assert.match(await kubectl(["logs", "daemonset/multus", "-c", "multus-daemon"], SYSTEM), /"locks":"multus-native\.node"/);
    // The node-scoped-writes policy is in force, and the daemon's projected token is bound to its
    // node: every network-status patch and event below passes the policy (docs/security.md).
    assert.equal((await kubectl(["get", "validatingadmissionpolicybinding", "multus-node-scoped-writes", "-o", "jsonpath={.spec.policyName}"])).trim(), "multus-node-scoped-writes");
    assert.ok(await eventually(async () => /the API server binds this identity to this node/.test(await kubectl(["logs", "daemonset/multus", "-c", "multus-daemon"], SYSTEM)), 20_000), "the daemon's token is bound to its node");

    const namespace = await seed000(t, info);
    // Delegates run chrooted in the node's root (chrootDir: /hostroot), with the node's tools: the
    // image has no iptables, so bridge's ipMasq works only through the chroot; default-route's
    // nsenter + ip (the engine's own host commands) likewise.
    assert.match(await kubectl(["logs", "daemonset/multus", "-c", "multus-daemon"], SYSTEM), /delegate plugins run chrooted in the host's root/);
    await applyYaml(
      JSON.stringify({ apiVersion: "k8s.cni.cncf.io/v1", kind: "NetworkAttachmentDefinition", metadata: { name: "masq" }, spec: { config: JSON.stringify({ cniVersion: "1.0.0", type: "bridge", bridge: "mt-masq0", isGateway: true, ipMasq: true, ipam: { type: "host-local", subnet: "10.12.0.0/24" } }) } }),
      { namespace },
    );
    await createPod({ namespace, name: "masq", annotations: { "k8s.v1.cni.cncf.io/networks": '[{"name":"masq","default-route":["10.12.0.1"]}]' } });
    await waitPodReady(namespace, "masq");
    assert.match(await podExec(namespace, "masq", ["ip", "route"]), /^default via 10\.12\.0\.1 dev net1/m, "default-route through the node's nsenter and ip");
    assert.ok((await nodeNatRules(info)).some((r) => r.includes("10.12.0.")), "bridge's ipMasq rule, made by the node's iptables");
    // The other examples, as a user applies them, in the same namespace (they use its bridge NAD).
    await applyExample(namespace, "json-interface-names");
    await applyExample(namespace, "default-only");
    await applyExample(namespace, "macvlan-static");
    await applyExample(namespace, "deployment");
    await waitPodReady(namespace, "test-dataplane");
    assert.deepEqual(names(await podInterfaces(namespace, "test-dataplane")), ["dataplane1", "dataplane2", "eth0", "lo"]);
    await waitPodReady(namespace, "test");
    assert.deepEqual(names(await podInterfaces(namespace, "test")), ["eth0", "lo"], "default only: one interface besides lo");
    await waitPodReady(namespace, "macvlan-static");
    const macvlan = await podInterfaces(namespace, "macvlan-static");
    assert.deepEqual(macvlan.find((i) => i.name === "net1")?.ips, ["192.168.100.10"], "the static address from the annotation's ips");
    await kubectl(["rollout", "status", "deployment/multi-net", "--timeout=120s"], { namespace, timeoutMs: 135_000 });
    const replicas = (await kubectl(["get", "pods", "-l", "app=multi-net", "-o", "jsonpath={.items[*].metadata.name}"], { namespace })).split(" ").filter((n) => n !== "");
    assert.equal(replicas.length, 2);
    for (const r of replicas) assert.deepEqual(names(await podInterfaces(namespace, r)), ["eth0", "lo", "net1"], `${r}: eth0 and net1`);
    const status = await networkStatus(namespace, replicas[0] ?? "");
    assert.deepEqual(status.map((s) => s.name), ["mt-podnet", `${namespace}/bridge`]);
    // A NAD without spec.config: its file is in upstream's default confDir, /etc/cni/multus/net.d on
    // the node (the daemon sees the node's /etc/cni read-only), made after the install as a user would.
    await onNode(info, `mkdir -p /etc/cni/multus/net.d && printf '%s' '${JSON.stringify({ cniVersion: "1.0.0", name: "filenet", type: "bridge", bridge: "mt-file0", ipam: { type: "host-local", subnet: "10.13.0.0/24" } })}' > /etc/cni/multus/net.d/filenet.conf`);
    await applyYaml(JSON.stringify({ apiVersion: "k8s.cni.cncf.io/v1", kind: "NetworkAttachmentDefinition", metadata: { name: "filenet" } }), { namespace });
    await createPod({ namespace, name: "from-file", annotations: { "k8s.v1.cni.cncf.io/networks": "filenet" } });
    await waitPodReady(namespace, "from-file");
    assert.match((await podInterfaces(namespace, "from-file")).find((i) => i.name === "net1")?.ips[0] ?? "", /^10\.13\.0\.\d+$/, "net1 from the file in /etc/cni/multus/net.d");

    await deletePods(namespace);
    await onNode(info, "rm -r /etc/cni/multus");
    await expectNoResidue(info);
    assert.ok(!(await nodeNatRules(info)).some((r) => r.includes("10.12.0.")), "the ipMasq rule went with the pod");
    const log = await installed.uninstall();
    assert.match(log, /uninstalled Multus-TS from this node/);
    assert.equal(await cniDirs(info), before, "the node's /etc/cni and /opt/cni/bin are as they were before the install");
  });

  test("INSTALL thick devices: the DaemonSet's mounts give the daemon the kubelet's PodResources and the device-info directory; seed 000's test-sriov gets the VF the kubelet allocated, with its device-info; vfioveth is installed", async (t) => {
    const info = node();
    const before = await cniDirs(info);
    const installed = await installWith(t, "deploy/thick");
    await rollout("multus");
    const bin = join(info.stateDir, "cni-bin");
    const [multus, vfioveth] = await Promise.all([stat(join(bin, "multus")), stat(join(bin, "vfioveth"))]);
    assert.equal(vfioveth.ino, multus.ino, "vfioveth is a hard link to the multi-call multus");
    // What the rig stands in for: VFs, the device plugin, sriov-cni (test/e2e/devices-rig.ts).
    const rig = await createDeviceRig(info);
    const plugin = new TestDevicePlugin({ pluginDir: join(info.stateDir, "device-plugins"), resourceName: NETDEVICE_RESOURCE, devices: NETDEVICE_VFS, deviceInfoDir: join(info.stateDir, "devinfo") });
    let cleaned = false;
    const cleanUp = async (): Promise<void> => {
      if (cleaned) return;
      cleaned = true;
      await plugin.stop();
      await rig.remove();
    };
    t.after(cleanUp);
    await plugin.start();
    const advertised = await eventually(async () => {
      const allocatable = JSON.parse(await kubectl(["get", "node", info.name, "-o", "jsonpath={.status.allocatable}"])) as Record<string, string>;
      return allocatable[NETDEVICE_RESOURCE] === String(NETDEVICE_VFS.length);
    }, 60_000);
    assert.ok(advertised, "the node's allocatable lists intel.com/sriov_netdevice");

    const namespace = await createNamespace(t);
    await kubectl(["apply", "-f", join(repoRoot, "examples", "seed-000-sriov", "sriov-nad.yaml"), "-f", join(repoRoot, "examples", "seed-000-sriov", "pod.yaml")], { namespace });
    await waitPodReady(namespace, "test-sriov");
    const vf = plugin.allocations.flat()[0];
    assert.ok(vf !== undefined, "the kubelet allocated a VF through the device plugin");
    const raw = (JSON.parse(await kubectl(["get", "pod", "test-sriov", "-o", "json"], { namespace })) as { metadata: { annotations: Record<string, string> } }).metadata.annotations["k8s.v1.cni.cncf.io/network-status"] ?? "[]";
    const net1 = (JSON.parse(raw) as { interface?: string; "device-info"?: { pci?: Record<string, string> } }[]).find((e) => e.interface === "net1");
    assert.equal(net1?.["device-info"]?.pci?.["pci-address"], vf, "the daemon found the VF through the mounted PodResources socket and reported its device-info");
    assert.ok((await podInterfaces(namespace, "test-sriov")).some((i) => i.name === "net1" && i.ips.some((a) => a.startsWith("10.56.217."))), "net1 is the VF, with its address");
    assert.match(await kubectl(["logs", "daemonset/multus", "-c", "multus-daemon"], SYSTEM), /"msg":"devices of the pod".*"sources":"PodResources: intel\.com\/sriov_netdevice ×1"/, "the answer came from PodResources (not the checkpoint fallback)");

    await deletePods(namespace);
    const netdev = `mtvf${String(NETDEVICE_VFS.indexOf(vf))}`;
    assert.ok(await eventually(async () => (await nodeLinks(info)).some((l) => l.name === netdev), 30_000), "the VF is back in the node's namespace");
    const infoFiles = await files(join(info.stateDir, "devinfo", "cni"));
    assert.deepEqual(infoFiles, [], "no attachment device-info file is left");
    await cleanUp();
    await expectNoResidue(info);
    await installed.uninstall();
    assert.equal(await cniDirs(info), before, "the node's /etc/cni and /opt/cni/bin are as they were before the install");
  });

  test("INSTALL seed 004 moved config: kubectl apply -k deploy/moved-config moves the original config to /etc/cni/multus/net.d unaltered, creates a NAD of its name that resolves to each node's file, pods get eth0 and net1, a Cilium-style rename is undone, uninstall restores it all", async (t) => {
    const info = node();
    const before = await cniDirs(info);
    const original = await readFile(join(info.stateDir, "net.d", "10-bridge.conflist"), "utf8");
    const installed = await installWith(t, "deploy/moved-config");
    await rollout("multus");
    // Seed 004's layout: before 10-bridge.conflist; after multus.d/, 10-multus.conf, multus/net.d/mt-podnet.conflist.
    assert.equal(
      await onNode(info, "cd /etc/cni && find . -type f | sort"),
      "./multus/net.d/mt-podnet.conflist\n./net.d/10-multus.conf\n./net.d/multus.d/install-state.json\n./net.d/multus.d/install-state.json.lock\n./net.d/multus.d/multus.kubeconfig\n./net.d/multus.d/written-configs.json\n",
    );
    assert.equal(await onNode(info, "cat /etc/cni/multus/net.d/mt-podnet.conflist"), original, "moved, not altered");
    // Config-less: each node's own moved file is the config (a primary CNI's config often differs per node).
    const nad = JSON.parse(await kubectl(["get", "net-attach-def", "mt-podnet", "-o", "json"], SYSTEM)) as { spec?: { config?: string } };
    assert.equal(nad.spec?.config, undefined, "the NAD for the original network has no config of its own");
    const conf = JSON.parse(await readFile(join(info.stateDir, "net.d", "10-multus.conf"), "utf8")) as Record<string, unknown>;
    assert.equal(conf["clusterNetwork"], "mt-podnet");
    assert.equal(conf["type"], "multus");

    const namespace = await seed000(t, info);
    const status = await networkStatus(namespace, "test-bridge");
    assert.deepEqual(status.map((s) => s.name), ["kube-system/mt-podnet", `${namespace}/bridge`], "the cluster network is the NAD made for the original config");
    assert.match(status[0]?.ips[0] ?? "", /^10\.244\.0\.\d+$/, "resolved through the NAD to the node's moved file (mt-podnet's subnet)");

    // Cilium without cni-exclusive: "false" renames foreign configs; the keeper puts ours back.
    await onNode(info, "mv /etc/cni/net.d/10-multus.conf /etc/cni/net.d/10-multus.conf.cilium_bak");
    const back = await eventually(async () => (await stat(join(info.stateDir, "net.d", "10-multus.conf")).catch(() => undefined)) !== undefined, 20_000);
    assert.ok(back, "10-multus.conf is back within 20 s of being renamed");
    await onNode(info, "rm /etc/cni/net.d/10-multus.conf.cilium_bak");

    await deletePods(namespace);
    await expectNoResidue(info);
    const log = await installed.uninstall();
    assert.match(log, /"restored":1/);
    assert.equal(await cniDirs(info), before, "the original config is back where it was, and nothing of Multus is left");
    const gone = await tryKubectl(["get", "net-attach-def", "mt-podnet"], SYSTEM);
    assert.notEqual(gone.code, 0, "the NAD made for the original network is deleted");
  });

  test("INSTALL legacy: kubectl apply -k deploy/legacy serves Multus v1's Network CRD; seed 003's multus-multi-net-poc, applied from examples/, gets eth0 from flannel-conf and net0 from ptp-conf (kubectl exec … ifconfig); deleting it leaves nothing", async (t) => {
    const info = node();
    const before = await cniDirs(info);
    const installed = await installWith(t, "deploy/legacy");
    await rollout("multus");
    await kubectl(["wait", "--for=condition=Established", "crd/networks.kubernetes.com", "--timeout=30s"]);
    const namespace = await createNamespace(t);
    await applyExample(namespace, "seed-003-legacy");
    assert.deepEqual((await kubectl(["get", "networks", "-o", "jsonpath={.items[*].metadata.name}"], { namespace })).split(" ").sort(), ["flannel-conf", "ptp-conf"], "kubectl get networks");
    await waitPodReady(namespace, "multus-multi-net-poc");
    // Seed 003's check, as the seed runs it.
    const ifconfig = await podExec(namespace, "multus-multi-net-poc", ["ifconfig"]);
    t.diagnostic(ifconfig);
    const blocks = new Map(ifconfig.split(/\n\s*\n/).map((b) => [b.split(/\s/)[0] ?? "", b] as const));
    assert.deepEqual([...blocks.keys()].filter((k) => k !== "").sort(), ["eth0", "lo", "net0"], "ifconfig: eth0, lo and net0");
    assert.match(blocks.get("eth0") ?? "", /inet addr:10\.245\.0\.\d+/, "eth0 is flannel-conf's (in place of the cluster network)");
    assert.match(blocks.get("net0") ?? "", /inet addr:10\.168\.1\.11 /, "net0 is ptp-conf's first address, as in the seed");
    const status = await networkStatus(namespace, "multus-multi-net-poc");
    assert.deepEqual(status.map((s) => [s.name, s.interface]), [[`${namespace}/flannel-conf`, "eth0"], [`${namespace}/ptp-conf`, "net0"]]);

    await deletePods(namespace);
    await expectNoResidue(info);
    const log = await installed.uninstall();
    assert.match(log, /uninstalled Multus-TS from this node/);
    assert.equal(await cniDirs(info), before, "the node's /etc/cni and /opt/cni/bin are as they were before the install");
  });

  test("INSTALL thin: kubectl apply -k deploy/thin installs multus, a kubeconfig from the pod's ServiceAccount and 00-multus.conflist; the seed-000 pod gets eth0 and net1; after the token is rejected and replaced pods still get net1; uninstall restores the node", async (t) => {
    const info = node();
    const before = await cniDirs(info);
    const installed = await installWith(t, "deploy/thin");
    await rollout("multus");
    const kubeconfig = join(info.stateDir, "net.d", "multus.d", "multus.kubeconfig");
    assert.equal((await stat(kubeconfig)).mode & 0o777, 0o600, "the kubeconfig holds a token: 0600");
    // It is the pod's own ServiceAccount: the real API server says who it is.
    const whoami = await kubectl(["--kubeconfig", kubeconfig, "--server", `https://127.0.0.1:${process.env["MULTUS_TS_APISERVER_PORT"] ?? ""}`, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"]);
    assert.equal(whoami, "system:serviceaccount:kube-system:multus");
    // …bound to the DaemonSet pod, so the API server knows its node: the node-scoped-writes policy
    // admits thin multus's network-status patches and events for this node's pods (docs/security.md).
    const review = JSON.parse(await kubectl(["--kubeconfig", kubeconfig, "--server", `https://127.0.0.1:${process.env["MULTUS_TS_APISERVER_PORT"] ?? ""}`, "auth", "whoami", "-o", "json"])) as { status: { userInfo: { extra?: Record<string, string[]> } } };
    assert.deepEqual(review.status.userInfo.extra?.["authentication.kubernetes.io/node-name"], [info.name], "the kubeconfig's token carries this node");
    assert.ok(await eventually(async () => /the API server binds this identity to this node/.test(await kubectl(["logs", "daemonset/multus", "-c", "keep-installed"], SYSTEM)), 20_000), "and multus-install says so");
    const namespace = await seed000(t, info);

    // The kubelet's token is bound to the DaemonSet pod: replacing the pod makes the API server reject
    // it (401, as for an expired token), and the new pod's installer writes the new one.
    const server = `https://127.0.0.1:${process.env["MULTUS_TS_APISERVER_PORT"] ?? ""}`;
    const tokenOf = async (): Promise<string> => /"token": "([^"]+)"/.exec(await readFile(kubeconfig, "utf8"))?.[1] ?? "";
    const oldToken = await tokenOf();
    await kubectl(["delete", "pod", "-l", "app.kubernetes.io/component=multus-thin", "--wait=true"], SYSTEM);
    await rollout("multus");
    const rejected = await eventually(async () => {
      const r = await tryKubectl(["--server", server, "--token", oldToken, "--insecure-skip-tls-verify", "auth", "whoami"], { kubeconfig: "/dev/null" });
      return r.code !== 0 && /Unauthorized|must be logged in/i.test(r.stderr);
    }, 60_000);
    assert.ok(rejected, "the replaced pod's token is rejected by the API server");
    assert.notEqual(await tokenOf(), oldToken, "the kubeconfig carries the new pod's token");
    await kubectl(["delete", "pod", "test-bridge", "--grace-period=1", "--wait=true"], { namespace });
    await applyExample(namespace, "seed-000-bridge");
    await waitPodReady(namespace, "test-bridge");
    assert.deepEqual(names(await podInterfaces(namespace, "test-bridge")), ["eth0", "lo", "net1"], "a pod after the token change still gets net1 (thin multus read the pod and NAD with the new token)");
    await deletePods(namespace);
    await expectNoResidue(info);
    await installed.uninstall();
    assert.equal(await cniDirs(info), before);
  });

  test("INSTALL rolling restart of the thick DaemonSet during pod churn: no pod starts without its secondary network, the config never disappears, every DEL cleans up", async (t) => {
    const info = node();
    const before = await cniDirs(info);
    const installed = await installWith(t, "deploy/thick");
    await rollout("multus");
    const namespace = await createNamespace(t);
    await kubectl(["apply", "-f", join(repoRoot, "examples", "seed-000-bridge", "bridge-nad.yaml")], { namespace });
    const daemonPod = async (): Promise<string> => (await kubectl(["get", "pods", "-l", "app.kubernetes.io/component=multus-daemon", "-o", "jsonpath={.items[*].metadata.uid}"], SYSTEM)).trim();
    const firstDaemon = await daemonPod();

    // Watch the config file the whole time: it must never be missing or empty (multus#1387, #1155).
    const confPath = join(info.stateDir, "net.d", "00-multus.conflist");
    const watching = { on: true };
    let missing = 0;
    const watcher = (async () => {
      while (watching.on) {
        const text = await readFile(confPath, "utf8").catch(() => "");
        if (text === "") missing++;
        await new Promise((r) => setTimeout(r, 50));
      }
    })();

    const pods = Array.from({ length: 8 }, (_, i) => `churn-${String(i)}`);
    for (const [i, name] of pods.entries()) {
      await createPod({ namespace, name, annotations: { "k8s.v1.cni.cncf.io/networks": "bridge" } });
      if (i === 2 || i === 5) await kubectl(["rollout", "restart", "daemonset/multus"], SYSTEM);
      await new Promise((r) => setTimeout(r, 500));
    }
    for (const name of pods) await waitPodReady(namespace, name, 180);
    await rollout("multus");
    assert.notEqual(await daemonPod(), firstDaemon, "the daemon pod was replaced during the churn");
    for (const name of pods) {
      assert.deepEqual(names(await podInterfaces(namespace, name)), ["eth0", "lo", "net1"], `${name} started with its secondary network`);
    }
    // DELs across one more restart.
    await kubectl(["rollout", "restart", "daemonset/multus"], SYSTEM);
    await deletePods(namespace);
    await rollout("multus");
    watching.on = false;
    await watcher;
    assert.equal(missing, 0, "00-multus.conflist was missing or empty during the restarts");
    await expectNoResidue(info);
    await installed.uninstall();
    assert.equal(await cniDirs(info), before);
  });

  test("INSTALL helm: helm install deploy/helm/multus-ts adopts the existing RBAC as documented, gives a Ready DaemonSet and the seed-000 pod eth0 and net1; helm uninstall then deploy/uninstall restore the node", async (t) => {
    const info = node();
    const helm = await helmBinary();
    const kubeconfig = ["--kubeconfig", clusterPaths().adminKubeconfig];
    const helmRun = async (args: readonly string[]): Promise<string> => {
      const r = await run(helm, [...args, ...kubeconfig], { timeoutMs: 200_000 });
      if (r.code !== 0) throw new CommandError(`helm ${args.join(" ")}`, r);
      return r.stdout;
    };
    const before = await cniDirs(info);
    t.after(async () => {
      await run(helm, ["uninstall", "multus", "-n", "kube-system", "--wait", "--ignore-not-found", ...kubeconfig], { timeoutMs: 200_000 });
      await uninstall().catch(() => undefined);
      // What the control plane's bootstrap applied, which helm uninstall deleted with the release.
      await applyK("deploy/rbac");
    });
    // The cluster already has deploy/rbac (kubectl-applied) and, from the kustomize installs before,
    // the daemon's ConfigMap and the node-scoped-writes policy: helm adopts objects that carry its ownership marks
    // (deploy/helm/multus-ts/README.md), as a user moving from kustomize to helm does.
    for (const obj of ["serviceaccount/multus -n kube-system", "clusterrole/multus", "clusterrolebinding/multus", "configmap/multus-ts-daemon-config -n kube-system", "validatingadmissionpolicy/multus-node-scoped-writes", "validatingadmissionpolicybinding/multus-node-scoped-writes"]) {
      const ref = obj.split(" ");
      if ((await tryKubectl(["get", ...ref])).code !== 0) continue;
      await kubectl(["label", "--overwrite", ...ref, "app.kubernetes.io/managed-by=Helm"]);
      await kubectl(["annotate", "--overwrite", ...ref, "meta.helm.sh/release-name=multus", "meta.helm.sh/release-namespace=kube-system"]);
    }
    await helmRun(["install", "multus", join(repoRoot, "deploy", "helm", "multus-ts"), "-n", "kube-system", "--wait", "--timeout", "150s"]);
    await rollout("multus");
    const namespace = await seed000(t, info);
    await deletePods(namespace);
    await expectNoResidue(info);
    await helmRun(["uninstall", "multus", "-n", "kube-system", "--wait"]);
    // helm uninstall removes the objects, not the node's files: deploy/uninstall does (its own ServiceAccount).
    assert.notEqual(await cniDirs(info), before, "the node still has Multus's files after helm uninstall");
    const log = await uninstall();
    assert.match(log, /uninstalled Multus-TS from this node/);
    assert.equal(await cniDirs(info), before);
  });
});
