// Test harness for the real control plane that test/cluster/cluster.sh runs on loopback
// (etcd + kube-apiserver, the NAD CRD and the multus RBAC from deploy/).
//
// Per test file: `const cluster = useCluster();` starts the control plane (or reuses a running one)
// before the file's tests and releases it afterwards. The npm script runs global-setup.ts first, so
// in a full run every file reuses the one control plane started there.
//
// Lifetime: a control plane started by tests is held by the PIDs of the test processes using it
// (`cluster.sh up --hold PID`) and stops when the last of them releases it, so two test runs on one
// machine can share it without one stopping it under the other. One started by hand with
// `cluster.sh up` (or with MULTUS_TS_KEEP_CLUSTER=1) stays up until `cluster.sh down`.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { after, before } from "node:test";
import type { TestContext } from "node:test";
import { fileURLToPath } from "node:url";

export const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
const clusterScript = fileURLToPath(new URL("cluster.sh", import.meta.url));

/** A cold `up` compiles kube-apiserver (~15 min on 2 cores); a warm one takes seconds. */
const clusterUpTimeoutMs = 60 * 60_000;
const kubectlTimeoutMs = 60_000;

export interface ClusterPaths {
  readonly stateDir: string;
  /** system:masters client certificate. */
  readonly adminKubeconfig: string;
  /** ServiceAccount token of system:serviceaccount:kube-system:multus. */
  readonly multusKubeconfig: string;
}

/** Where cluster.sh keeps its state; the same rule as the script (MULTUS_TS_CLUSTER_DIR). */
export function clusterPaths(env: NodeJS.ProcessEnv = process.env): ClusterPaths {
  const stateDir = (env["MULTUS_TS_CLUSTER_DIR"] ?? "/tmp/multus-ts-cluster").replace(/\/+$/, "");
  return {
    stateDir,
    adminKubeconfig: join(stateDir, "admin.kubeconfig"),
    multusKubeconfig: join(stateDir, "multus.kubeconfig"),
  };
}

export interface RunOptions {
  /** Written to the child's stdin, which is then closed. */
  readonly input?: string;
  readonly timeoutMs?: number;
  /** Stream the child's stderr to ours as well (progress of long commands). */
  readonly echoStderr?: boolean;
}

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** A command that did not exit 0 (or ran past its deadline); keeps stderr for the message. */
export class CommandError extends Error {
  readonly result: RunResult;

  constructor(command: string, result: RunResult) {
    const detail = result.stderr.trim() || result.stdout.trim();
    super(`${command} exited ${result.code}${detail === "" ? "" : `: ${detail}`}`);
    this.name = "CommandError";
    this.result = result;
  }
}

/**
 * Runs a program without a shell and with a deadline; resolves with the exit code (never rejects
 * for a non-zero exit), rejects only if the program cannot start or exceeds its deadline.
 */
export function run(file: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const timeoutMs = options.timeoutMs ?? kubectlTimeoutMs;
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ["pipe", "pipe", "pipe"], signal: AbortSignal.timeout(timeoutMs) });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => {
      stderr.push(chunk);
      if (options.echoStderr === true) process.stderr.write(chunk);
    });
    child.on("error", (error) => {
      const result = { code: -1, stdout: Buffer.concat(stdout).toString(), stderr: Buffer.concat(stderr).toString() };
      const reason = error.name === "AbortError" ? `timed out after ${timeoutMs} ms` : error.message;
      reject(new CommandError(`${file} ${args.join(" ")} (${reason})`, result));
    });
    child.on("close", (code, signal) => {
      resolve({
        code: code ?? (signal === null ? -1 : 128),
        stdout: Buffer.concat(stdout).toString(),
        stderr: Buffer.concat(stderr).toString(),
      });
    });
    // A child that exits without reading its stdin must not fail the run with EPIPE.
    child.stdin.on("error", () => undefined);
    child.stdin.end(options.input ?? "");
  });
}

export interface KubectlOptions extends RunOptions {
  /** Defaults to the admin kubeconfig. */
  readonly kubeconfig?: string;
  readonly namespace?: string;
}

function kubectlArgs(args: readonly string[], options: KubectlOptions): string[] {
  const kubeconfig = options.kubeconfig ?? clusterPaths().adminKubeconfig;
  const namespace = options.namespace === undefined ? [] : ["--namespace", options.namespace];
  return ["--kubeconfig", kubeconfig, "--request-timeout=30s", ...namespace, ...args];
}

/** The real kubectl; resolves with its exit code and output whatever the exit code. */
export function tryKubectl(args: readonly string[], options: KubectlOptions = {}): Promise<RunResult> {
  return run("kubectl", kubectlArgs(args, options), options);
}

/** The real kubectl; resolves with stdout, rejects with a CommandError carrying stderr. */
export async function kubectl(args: readonly string[], options: KubectlOptions = {}): Promise<string> {
  const result = await tryKubectl(args, options);
  if (result.code !== 0) throw new CommandError(`kubectl ${args.join(" ")}`, result);
  return result.stdout;
}

/** `kubectl apply` of a YAML or JSON document (or several, separated by `---`). */
export function applyYaml(yaml: string, options: KubectlOptions = {}): Promise<string> {
  return kubectl(["apply", "-f", "-"], { ...options, input: yaml });
}

export interface ClusterStart {
  readonly paths: ClusterPaths;
  /** True if this call started the control plane, false if it reused a running one. */
  readonly started: boolean;
}

async function runClusterScript(args: readonly string[]): Promise<RunResult> {
  const result = await run("bash", [clusterScript, ...args], { timeoutMs: clusterUpTimeoutMs, echoStderr: true });
  if (result.code !== 0) throw new CommandError(`cluster.sh ${args.join(" ")}`, result);
  return result;
}

/** MULTUS_TS_KEEP_CLUSTER=1: a control plane the tests start stays up until `cluster.sh down`. */
export function keepCluster(env: NodeJS.ProcessEnv = process.env): boolean {
  return env["MULTUS_TS_KEEP_CLUSTER"] === "1";
}

/** `cluster.sh up --hold <this process>`: starts the control plane or reuses a healthy one. */
export async function startCluster(): Promise<ClusterStart> {
  const { stdout } = await runClusterScript(keepCluster() ? ["up"] : ["up", "--hold", String(process.pid)]);
  const outcome = /^MULTUS_TS_CLUSTER=(started|reused)$/m.exec(stdout)?.[1];
  if (outcome === undefined) throw new Error(`cluster.sh up printed no MULTUS_TS_CLUSTER= line:\n${stdout}`);
  return { paths: clusterPaths(), started: outcome === "started" };
}

/** `cluster.sh release <this process>`: stops the control plane if this was its last holder. */
export async function releaseCluster(): Promise<void> {
  await runClusterScript(["release", String(process.pid)]);
}

/** `cluster.sh down`: stops the control plane whoever uses it, and removes its state dir. */
export async function stopCluster(): Promise<void> {
  await runClusterScript(["down"]);
}

/**
 * Registers file-level hooks: the control plane is up before the file's first test and released
 * after its last one (stopped if nobody else holds it). Returns the kubeconfig paths.
 */
export function useCluster(): ClusterPaths {
  before(async () => {
    await startCluster();
  });
  after(async () => {
    await releaseCluster();
  });
  return clusterPaths();
}

/** A DNS-1123 label from a test name plus a random suffix, at most 63 characters. */
export function uniqueName(prefix: string, hint = ""): string {
  const slug = `${prefix}-${hint}`
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/-+/g, "-")
    .replace(/^-|-$/g, "")
    .slice(0, 50)
    .replace(/-$/, "");
  return `${slug}-${randomBytes(3).toString("hex")}`;
}

/**
 * Creates a namespace for one test and deletes it when the test ends. The namespace also gets the
 * `default` ServiceAccount, which pod admission requires and which kube-controller-manager (not
 * run here) would otherwise create. Deletion does not wait: without kube-controller-manager a
 * namespace stays Terminating with its contents, which is harmless for a throw-away control plane.
 */
export async function createNamespace(t: TestContext): Promise<string> {
  const name = uniqueName("mts", t.name);
  await applyYaml(
    [
      "apiVersion: v1",
      "kind: Namespace",
      "metadata:",
      `  name: ${name}`,
      "  labels:",
      "    multus-ts.test/owned: \"true\"",
      "---",
      "apiVersion: v1",
      "kind: ServiceAccount",
      "metadata:",
      "  name: default",
      `  namespace: ${name}`,
    ].join("\n"),
  );
  t.after(async () => {
    await kubectl(["delete", "namespace", name, "--wait=false", "--ignore-not-found"]);
  });
  return name;
}
