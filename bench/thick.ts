// Benchmark: Kubernetes-mode ADD and DEL of one pod (cluster network + one NAD, both bridge +
// host-local), thin and thick, against the delegate floor (the two bridge plugins run directly), and
// a 64-pod burst through the daemon with its peak RSS. Upstream's thin plugin (v4.3.0, built from the
// Go module proxy) runs the same scenario for reference. Everything runs in the test beds'
// throw-away namespaces against the real kube-apiserver (started, or reused, like the tests do);
// pods are real API objects with their annotations also in runtimeConfig, as containerd sends them.
// Prints medians and p90s; nothing is asserted (timings are not tests). Run as root after the build:
//   node bench/thick.ts [iterations=30]
import { spawn } from "node:child_process";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { join } from "node:path";
import { applyYaml, kubectl, releaseCluster, startCluster } from "../test/cluster/harness.ts";
import { socketGet } from "../test/helpers/daemon.ts";
import { createKubeBed, nadYaml, REF_PLUGINS, type KubeBed, type TestPod } from "../test/helpers/kube-bed.ts";
import { run } from "../test/helpers/netns.ts";
import { upstreamBinary } from "../test/helpers/upstream-build.ts";

const iterations = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? "30");
/** `--burst-only[=NODE_OPTIONS]`: just the 64-pod burst through our daemon (memory experiments). */
const burstOnly = process.argv.find((a) => a.startsWith("--burst-only"));
delete process.env["NODE_EXTRA_CA_CERTS"];

const { paths } = await startCluster();
const ns = `bench-thick-${String(process.pid)}`;
// No controller-manager runs: the namespace's default ServiceAccount is made here.
await applyYaml(`apiVersion: v1\nkind: Namespace\nmetadata: { name: ${ns} }\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata: { name: default, namespace: ${ns} }\n`);
const results: string[] = [];
try {
  if (burstOnly !== undefined) {
    const opts = burstOnly.includes("=") ? burstOnly.slice(burstOnly.indexOf("=") + 1) : undefined;
    console.log(await burst(opts));
    process.exit(0);
  }
  results.push(await floor());
  for (const mode of ["thin", "thick"] as const) results.push(await scenario(mode, `Multus-TS ${mode}`));
  results.push(await scenario("thin", "upstream v4.3.0 thin", upstreamBinary("multus")));
  results.push(await upstreamThick());
  results.push(await burst());
} finally {
  await kubectl(["delete", "namespace", ns, "--wait=false"]).catch(() => "");
  await releaseCluster();
}
console.log(results.join("\n"));

async function bedFor(mode: "thin" | "thick", daemonConfig: Record<string, unknown> = {}): Promise<KubeBed> {
  const bed = await createKubeBed(paths, { mode, daemonConfig });
  await applyYaml(nadYaml(ns, "bridge-net", { cniVersion: "1.0.0", type: "bridge", bridge: "mtb-sec", ipam: { type: "host-local", subnet: "10.31.0.0/16", dataDir: bed.ipamDir } }));
  return bed;
}

/** The runtime's config: containerd's pod-annotations capability carries the networks annotation. */
function confFor(bed: KubeBed, extra: Record<string, unknown> = {}): string {
  return bed.conf({ runtimeConfig: { "io.kubernetes.cri.pod-annotations": { "k8s.v1.cni.cncf.io/networks": "bridge-net" } }, ...extra });
}

async function pods(bed: KubeBed, n: number, prefix: string): Promise<TestPod[]> {
  const out: TestPod[] = [];
  for (let i = 0; i < n; i++) out.push(await bed.createPod(ns, "bridge-net", `${prefix}-${String(i)}`));
  return out;
}

async function scenario(mode: "thin" | "thick", label: string, executable?: string, prepared?: { bed: KubeBed; conf: string }): Promise<string> {
  const bed = prepared?.bed ?? (await bedFor(mode));
  try {
    const conf = prepared?.conf ?? confFor(bed);
    const list = await pods(bed, iterations + 3, `${mode}${executable === undefined ? "" : "-up"}`);
    const add: number[] = [];
    const del: number[] = [];
    for (const [i, p] of list.entries()) {
      const call = async (command: string): Promise<number> => {
        const started = performance.now();
        const r = await bed.cni(command, p, executable === undefined ? { conf } : { conf, executable });
        if (r.code !== 0) throw new Error(`${label} ${command}: ${r.stdout}${r.stderr}`);
        return performance.now() - started;
      };
      const a = await call("ADD");
      const d = await call("DEL");
      // The first rounds warm caches (page cache, the daemon's first requests).
      if (i >= 3) {
        add.push(a);
        del.push(d);
      }
    }
    let phases = "";
    if (bed.daemon !== undefined && executable === undefined) phases = `\n${" ".repeat(29)}${await phaseMeans(bed.daemon.socketPath)}`;
    return `${label.padEnd(28)} ADD ${fmt(add)}   DEL ${fmt(del)}${phases}`;
  } finally {
    // A prepared bed is its owner's to close.
    if (prepared === undefined) await bed.close();
  }
}

/** The daemon's own account of where an ADD's time went: the mean of each phase (ms). */
async function phaseMeans(socketPath: string): Promise<string> {
  const text = (await socketGet(socketPath, "/metrics")).body;
  const value = (name: string, phase: string): number => Number(new RegExp(`^${name}\\{command="ADD",phase="${phase}"\\} (\\S+)$`, "m").exec(text)?.[1] ?? "0");
  const parts = ["lock", "plan", "delegates", "status"].map((phase) => {
    const count = value("multus_phase_duration_seconds_count", phase);
    return `${phase} ${count === 0 ? "-" : ((value("multus_phase_duration_seconds_sum", phase) / count) * 1000).toFixed(1)} ms`;
  });
  return `daemon's ADD phases (mean): ${parts.join(", ")}`;
}

/**
 * Upstream's daemon and shim on the same scenario. Its daemon reads only in-cluster credentials
 * (rest.InClusterConfig: /var/run/secrets/kubernetes.io/serviceaccount), so it runs in a mount
 * namespace of its own with a tmpfs over /var holding the multus ServiceAccount's token and CA —
 * nothing of the machine's /var is touched or visible to it.
 */
async function upstreamThick(): Promise<string> {
  const bed = await bedFor("thin");
  try {
    return await runUpstreamThick(bed);
  } finally {
    await bed.close();
  }
}

async function runUpstreamThick(bed: KubeBed): Promise<string> {
  const socketDir = join(bed.state, "upstream-run");
  const kc = JSON.parse(await kubectl(["config", "view", "--raw", "--minify", "-o", "json"], { kubeconfig: paths.multusKubeconfig })) as {
    clusters: { cluster: { server: string; "certificate-authority-data"?: string; "certificate-authority"?: string } }[];
    users: { user: { token?: string } }[];
  };
  const cluster = kc.clusters[0]?.cluster;
  const token = kc.users[0]?.user.token;
  if (cluster === undefined || token === undefined) throw new Error("the multus kubeconfig has no server or token");
  const ca = cluster["certificate-authority-data"] !== undefined ? Buffer.from(cluster["certificate-authority-data"], "base64").toString() : await readFile(cluster["certificate-authority"] ?? "", "utf8");
  const sa = join(bed.state, "sa");
  await mkdir(sa);
  await writeFile(join(sa, "token"), token);
  await writeFile(join(sa, "ca.crt"), ca);
  await writeFile(join(sa, "namespace"), "kube-system");
  const config = join(bed.state, "upstream-daemon-config.json");
  await mkdir(join(bed.state, "upstream-gen"));
  await writeFile(config, JSON.stringify({ chrootDir: "", socketDir, cniVersion: "1.0.0", logLevel: "error", logToStderr: true, cniConfigDir: join(bed.state, "upstream-gen"), multusAutoconfigDir: bed.confDir, multusConfigFile: "auto" }));
  const url = new URL(cluster.server);
  const script = [
    "set -e",
    "mount -t tmpfs multus-bench /var",
    "mkdir -p /var/run/secrets/kubernetes.io/serviceaccount",
    // /var/run was the symlink to /run: sandboxes are named /var/run/netns/<name>.
    "ln -s /run/netns /var/run/netns",
    `cp ${sa}/token ${sa}/ca.crt ${sa}/namespace /var/run/secrets/kubernetes.io/serviceaccount/`,
    `exec ip netns exec ${bed.node.name} env KUBERNETES_SERVICE_HOST=${url.hostname} KUBERNETES_SERVICE_PORT=${url.port} MULTUS_NODE_NAME=mt-node ${upstreamBinary("multus-daemon")} -config ${config}`,
  ].join("\n");
  const daemon = spawn("unshare", ["--mount", "--propagation", "slave", "bash", "-c", script], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  daemon.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  try {
    for (let waited = 0; ; waited += 100) {
      if (daemon.exitCode !== null) throw new Error(`upstream multus-daemon exited: ${stderr}`);
      // Upstream v4.3.0 serves /healthz only.
      const ok = await run(["curl", "-sf", "--unix-socket", join(socketDir, "multus.sock"), "http://x/healthz"]).then(() => true, () => false);
      if (ok) break;
      if (waited > 60_000) throw new Error(`upstream multus-daemon not ready: ${stderr}`);
      await sleep(100);
    }
    const conf = confFor(bed, { type: "multus-shim", daemonSocketDir: socketDir });
    const line = await scenario("thin", "upstream v4.3.0 thick", upstreamBinary("multus-shim"), { bed, conf });
    if (daemon.pid === undefined) throw new Error("no upstream daemon");
    return `${line}\n${await burstThrough(bed, "upstream v4.3.0 thick", conf, daemon.pid, upstreamBinary("multus-shim"))}`;
  } finally {
    daemon.kill("SIGTERM");
    await new Promise((resolve) => daemon.once("exit", resolve));
  }
}

/** The two bridge plugins exec'd directly, as Multus would: the delegate floor. */
async function floor(): Promise<string> {
  const bed = await bedFor("thin");
  try {
    const cluster = JSON.parse(await readFile(join(bed.confDir, "10-cluster.conf"), "utf8")) as Record<string, unknown>;
    const secondary = { cniVersion: "1.0.0", name: "bridge-net", type: "bridge", bridge: "mtb-sec", ipam: { type: "host-local", subnet: "10.31.0.0/16", dataDir: bed.ipamDir } };
    const list = await pods(bed, iterations + 3, "floor");
    const add: number[] = [];
    const del: number[] = [];
    for (const [i, p] of list.entries()) {
      const exec = async (command: string, conf: Record<string, unknown>, ifName: string): Promise<void> => {
        const r = await run(["ip", "netns", "exec", bed.node.name, join(REF_PLUGINS, "bridge")], {
          input: JSON.stringify(conf),
          env: { ...process.env, CNI_COMMAND: command, CNI_CONTAINERID: p.containerId, CNI_NETNS: p.netns.path, CNI_IFNAME: ifName, CNI_PATH: REF_PLUGINS },
        });
        if (r.code !== 0) throw new Error(`floor ${command}: ${r.stdout}${r.stderr}`);
      };
      let started = performance.now();
      await exec("ADD", cluster, "eth0");
      await exec("ADD", secondary, "net1");
      const a = performance.now() - started;
      started = performance.now();
      await exec("DEL", secondary, "net1");
      await exec("DEL", cluster, "eth0");
      const d = performance.now() - started;
      if (i >= 3) {
        add.push(a);
        del.push(d);
      }
    }
    return `${"delegate floor (2 bridges)".padEnd(28)} ADD ${fmt(add)}   DEL ${fmt(del)}`;
  } finally {
    await bed.close();
  }
}

/** 64 ADDs at once through the daemon (default limits), then 64 DELs at once; the daemon's peak RSS. */
async function burst(nodeOptions?: string): Promise<string> {
  const bed = await createKubeBed(paths, { mode: "thick", ...(nodeOptions === undefined ? {} : { daemonEnv: { NODE_OPTIONS: nodeOptions } }) });
  await applyYaml(nadYaml(ns, "bridge-net", { cniVersion: "1.0.0", type: "bridge", bridge: "mtb-sec", ipam: { type: "host-local", subnet: "10.31.0.0/16", dataDir: bed.ipamDir } }));
  try {
    const daemon = bed.daemon;
    if (daemon === undefined) throw new Error("no daemon");
    return await burstThrough(bed, `Multus-TS thick (connectionLimit 32${nodeOptions === undefined ? "" : `, NODE_OPTIONS=${nodeOptions}`})`, confFor(bed), daemon.pid);
  } finally {
    await bed.close();
  }
}

async function burstThrough(bed: KubeBed, label: string, conf: string, daemonPid: number, executable?: string): Promise<string> {
  const list = await pods(bed, 64, `burst${executable === undefined ? "" : "-up"}`);
  const rssBefore = await rss(daemonPid);
  const timed = async (command: string): Promise<{ wall: number; each: number[]; failed: number }> => {
    const started = performance.now();
    const each: number[] = [];
    let failed = 0;
    await Promise.all(
      list.map(async (p) => {
        const s = performance.now();
        const r = await bed.cni(command, p, executable === undefined ? { conf, timeoutMs: 120_000 } : { conf, executable, timeoutMs: 120_000 });
        if (r.code !== 0) failed++;
        each.push(performance.now() - s);
      }),
    );
    return { wall: performance.now() - started, each, failed };
  };
  const add = await timed("ADD");
  const anonAfterAdd = await rss(daemonPid, "RssAnon");
  const del = await timed("DEL");
  const peak = await rss(daemonPid, "VmHWM");
  return [
    `burst of 64, ${label}: ADD all in ${(add.wall / 1000).toFixed(2)} s (${String(add.failed)} failed), each ${fmt(add.each)}`,
    `${" ".repeat(12)}DEL all in ${(del.wall / 1000).toFixed(2)} s (${String(del.failed)} failed), each ${fmt(del.each)}`,
    `${" ".repeat(12)}daemon RSS: ${String(rssBefore)} MiB before, ${String(peak)} MiB peak; anonymous (heap) after the ADDs: ${String(anonAfterAdd)} MiB`,
  ].join("\n");
}

async function rss(pid: number, field = "VmRSS"): Promise<number> {
  const status = await readFile(`/proc/${String(pid)}/status`, "utf8");
  return Math.round(Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? "0") / 1024);
}

function fmt(samples: number[]): string {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number): number => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? 0;
  return `median ${at(0.5).toFixed(1)} ms, p90 ${at(0.9).toFixed(1)} ms (n=${String(s.length)})`;
}
