// Starts an implementation's multus-daemon the way a thick DaemonSet runs it, identically for every
// implementation: `multus-daemon --config <file>` in the bed's node network namespace, with the
// in-cluster credentials a pod gets (KUBERNETES_SERVICE_HOST/PORT and the multus ServiceAccount's
// token and CA under /var/run/secrets/kubernetes.io/serviceaccount). Upstream reads only in-cluster
// credentials, so the daemon runs in a mount namespace of its own with a tmpfs over /var holding them;
// nothing of the machine's /var is touched or visible to it. Only the process started here is
// signalled, by its PID.
//
// Exported API:
//   startBenchDaemon(o): Promise<BenchDaemon>   resolves once the socket answers /readyz or /healthz
//   interface BenchDaemon { pid, socketDir, stop() }
import { spawn } from "node:child_process";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { kubectl, type ClusterPaths } from "../../test/cluster/harness.ts";
import { run } from "../../test/helpers/netns.ts";
import { dropFileCache } from "./system.ts";

export interface BenchDaemon {
  pid: number;
  socketDir: string;
  stop(): Promise<void>;
}

export interface BenchDaemonOptions {
  executable: string;
  label: string;
  cluster: ClusterPaths;
  nodeNs: string;
  state: string;
  confDir: string;
  /** The command line before `--config …` (default: the executable alone); e.g. node, a bundle and "multus-daemon". */
  command?: readonly string[];
  /** More environment for the daemon (NODE_OPTIONS, MALLOC_ARENA_MAX…). */
  env?: Readonly<Record<string, string>>;
  /** More daemon-config keys (Multus-TS's own, such as connectionLimit). */
  config?: Readonly<Record<string, unknown>>;
}

export async function startBenchDaemon(o: BenchDaemonOptions): Promise<BenchDaemon> {
  const kc = JSON.parse(await kubectl(["config", "view", "--raw", "--minify", "-o", "json"], { kubeconfig: o.cluster.multusKubeconfig })) as {
    clusters: { cluster: { server: string; "certificate-authority-data"?: string; "certificate-authority"?: string } }[];
    users: { user: { token?: string } }[];
  };
  const cluster = kc.clusters[0]?.cluster;
  const token = kc.users[0]?.user.token;
  if (cluster === undefined || token === undefined) throw new Error("the multus kubeconfig has no server or token");
  const ca = cluster["certificate-authority-data"] !== undefined ? Buffer.from(cluster["certificate-authority-data"], "base64").toString() : await readFile(cluster["certificate-authority"] ?? "", "utf8");
  const dir = join(o.state, `daemon-${o.label.replace(/[^A-Za-z0-9]+/g, "-")}`);
  const sa = join(dir, "sa");
  const socketDir = join(dir, "run");
  const generated = join(dir, "generated");
  await mkdir(sa, { recursive: true });
  await mkdir(generated, { recursive: true });
  await writeFile(join(sa, "token"), token);
  await writeFile(join(sa, "ca.crt"), ca);
  await writeFile(join(sa, "namespace"), "kube-system");
  const config = join(dir, "daemon-config.json");
  // Upstream's daemon-config keys, as its thick DaemonSet's ConfigMap sets them.
  await writeFile(
    config,
    JSON.stringify({ chrootDir: "", socketDir, cniVersion: "1.0.0", logLevel: "error", logToStderr: true, cniConfigDir: generated, multusAutoconfigDir: o.confDir, multusConfigFile: "auto", ...o.config }),
  );
  const url = new URL(cluster.server);
  // Every implementation's daemon starts from a binary read back from disk, as on a node (system.ts).
  const command = o.command ?? [o.executable];
  for (const file of command.filter((c) => c.startsWith("/"))) dropFileCache(file);
  const extraEnv = Object.entries(o.env ?? {}).map(([k, v]) => `${k}=${shellQuote(v)}`);
  const script = [
    "set -e",
    "mount -t tmpfs multus-bench /var",
    "mkdir -p /var/run/secrets/kubernetes.io/serviceaccount",
    // /var/run was the symlink to /run: sandboxes are named /var/run/netns/<name>.
    "ln -s /run/netns /var/run/netns",
    `cp ${sa}/token ${sa}/ca.crt ${sa}/namespace /var/run/secrets/kubernetes.io/serviceaccount/`,
    `exec ip netns exec ${o.nodeNs} env -u NODE_EXTRA_CA_CERTS KUBERNETES_SERVICE_HOST=${url.hostname} KUBERNETES_SERVICE_PORT=${url.port} MULTUS_NODE_NAME=mt-node ${extraEnv.join(" ")} ${command.map(shellQuote).join(" ")} --config ${config}`,
  ].join("\n");
  // Every exec replaces the process: the PID spawned is the daemon's.
  const daemon = spawn("unshare", ["--mount", "--propagation", "slave", "bash", "-c", script], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  daemon.stderr.on("data", (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-8000);
  });
  const pid = daemon.pid;
  if (pid === undefined) throw new Error(`${o.label} multus-daemon did not start`);
  const exited = new Promise<void>((resolve) => {
    daemon.once("exit", () => {
      resolve();
    });
  });
  const stop = async (): Promise<void> => {
    if (daemon.exitCode === null && daemon.signalCode === null) daemon.kill("SIGTERM");
    const timer = setTimeout(() => daemon.kill("SIGKILL"), 15_000);
    await exited;
    clearTimeout(timer);
  };
  const socket = join(socketDir, "multus.sock");
  for (let waited = 0; ; waited += 100) {
    if (daemon.exitCode !== null) throw new Error(`${o.label} multus-daemon exited: ${stderr}`);
    // Ours answers /readyz once its caches are synced; upstream v4.3.0 serves /healthz only (404 here).
    const readyz = await status(socket, "/readyz");
    if (readyz === 200 || (readyz === 404 && (await status(socket, "/healthz")) === 200)) return { pid, socketDir, stop };
    if (waited > 60_000) {
      await stop();
      throw new Error(`${o.label} multus-daemon not ready after 60 s: ${stderr}`);
    }
    await sleep(100);
  }
}

/** The HTTP status of a GET over the unix socket; 0 when nothing answers. */
async function status(socket: string, path: string): Promise<number> {
  const r = await run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--unix-socket", socket, `http://x${path}`], { allowFail: true });
  return Number(r.stdout.trim()) || 0;
}

function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`;
}
