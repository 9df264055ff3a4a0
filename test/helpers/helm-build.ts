// The helm client for the chart tests (test/cluster/helm-drift.test.ts). Neither PyPI nor npm carries
// a build published by the Helm project, so it is compiled from the Go module proxy at a pinned
// release, once, into ${MULTUS_TS_CACHE_DIR:-~/.cache/multus-ts}/helm-<version>/bin/helm. On two cores
// the build took 98 s from empty Go module and build caches, 67 s with the modules already
// downloaded; later runs reuse the binary. Never shipped.
import { spawn } from "node:child_process";
import { createWriteStream, existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import * as v from "valibot";

export const HELM_MODULE = "helm.sh/helm/v3";
/** The newest Helm 3 release the module proxy served when this was pinned. */
export const HELM_VERSION = "v3.22.0";

// Far above the measured cold build, so that only a hung download or a stuck compiler trips it.
const BUILD_DEADLINE_MS = 30 * 60_000;
const LOG_TAIL_LINES = 30;

const moduleInfoSchema = v.object({ GoMod: v.string() });

function say(message: string): void {
  process.stderr.write(`helm-build: ${message}\n`);
}

/** The cache root shared with test/cluster/cluster.sh, which reads the same variable. */
function cacheRoot(): string {
  return process.env["MULTUS_TS_CACHE_DIR"] ?? join(homedir(), ".cache", "multus-ts");
}

/**
 * Runs `go` with its stdout and stderr appended to `logPath`, calling `onLine` for each stderr line.
 * Rejects with the log's tail when it fails, so that the test output alone explains the failure.
 */
function runGo(args: string[], options: { cwd: string; env: NodeJS.ProcessEnv; logPath: string; onLine?: (line: string) => void }): Promise<string> {
  const step = `go ${args.filter((a) => !a.startsWith("-")).slice(0, 2).join(" ")}`;
  return new Promise((resolve, reject) => {
    const log = createWriteStream(options.logPath, { flags: "a" });
    log.write(`$ go ${args.join(" ")}\n`);
    const child = spawn("go", args, { cwd: options.cwd, env: options.env, stdio: ["ignore", "pipe", "pipe"], signal: AbortSignal.timeout(BUILD_DEADLINE_MS) });
    let stdout = "";
    let partial = "";
    const tail: string[] = [];
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      log.write(chunk);
    });
    child.stderr.on("data", (chunk: Buffer) => {
      log.write(chunk);
      const lines = (partial + chunk.toString()).split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) {
        tail.push(line);
        if (tail.length > LOG_TAIL_LINES) tail.shift();
        options.onLine?.(line);
      }
    });
    // A spawn failure or the deadline emits "error" and then "close": settle on the first only.
    let settled = false;
    const settle = (why: string | undefined): void => {
      if (settled) return;
      settled = true;
      if (partial !== "") tail.push(partial);
      // `go mod download -json` reports its errors in the JSON on stdout, not on stderr.
      if (!tail.some((l) => l !== "")) tail.splice(0, tail.length, ...stdout.trimEnd().split("\n").slice(-LOG_TAIL_LINES));
      const last = tail.some((l) => l !== "") ? `; last lines:\n${tail.join("\n")}\n` : "; ";
      log.end(() => {
        if (why === undefined) resolve(stdout);
        else reject(new Error(`building helm ${HELM_VERSION} failed: ${step} ${why}${last}full log: ${options.logPath}`));
      });
    };
    child.on("error", (err: NodeJS.ErrnoException) => {
      if (err.name === "AbortError") settle(`was stopped after the ${BUILD_DEADLINE_MS / 60_000} min deadline`);
      else if (err.code === "ENOENT") settle("could not start: go is not on PATH (it is needed once, to build helm)");
      else settle(`could not run (${err.message})`);
    });
    child.on("close", (code, signal) => {
      if (code === 0) settle(undefined);
      else settle(signal === null ? `exited with code ${String(code)}` : `was ended by ${signal}`);
    });
  });
}

/**
 * The path of a helm client at HELM_VERSION, built from the Go module proxy when the cache lacks it.
 * The build goes into a private temp dir and only the finished binary is renamed into place, so an
 * interrupted build leaves no half-written helm behind, and two concurrent builds both end with a
 * complete one (rename replaces atomically).
 */
export async function helmBinary(): Promise<string> {
  const dir = join(cacheRoot(), `helm-${HELM_VERSION}`);
  const bin = join(dir, "bin", "helm");
  if (existsSync(bin)) return bin;

  await mkdir(join(dir, "bin"), { recursive: true });
  const logPath = join(dir, "build.log");
  await writeFile(logPath, ""); // the log tells of the latest build only
  const tmp = await mkdtemp(join(dir, ".build-"));
  // The work dir is outside every Go module and workspace, so nothing of this repository (e.g. the
  // k8s-build module's go.mod) takes part in resolving helm's dependencies.
  const env: NodeJS.ProcessEnv = { ...process.env, GOBIN: tmp, GOFLAGS: "-mod=mod", GOWORK: "off", CGO_ENABLED: "0" };
  const started = Date.now();
  try {
    say(`building helm ${HELM_VERSION} from the Go module proxy with the go on PATH; log: ${logPath}`);
    const info = v.parse(moduleInfoSchema, JSON.parse(await runGo(["mod", "download", "-json", `${HELM_MODULE}@${HELM_VERSION}`], { cwd: tmp, env, logPath })));
    const ldflags = await releaseLdflags(info.GoMod);

    let downloads = 0;
    let packages = 0;
    await runGo(["install", "-v", "-trimpath", "-ldflags", ldflags, `${HELM_MODULE}/cmd/helm@${HELM_VERSION}`], {
      cwd: tmp,
      env,
      logPath,
      onLine: (line) => {
        // `go install -v` names each package it compiles; downloads come first as "go: downloading".
        if (line.startsWith("go: downloading ")) {
          downloads += 1;
          if (downloads % 50 === 0) say(`  downloaded ${downloads} modules`);
        } else if (line !== "" && !line.startsWith("go: ")) {
          packages += 1;
          if (packages % 100 === 0) say(`  compiled ${packages} packages (${line})`);
        }
      },
    });
    const built = join(tmp, "helm");
    if (!existsSync(built)) throw new Error(`go install reported success but produced no ${built}; full log: ${logPath}`);
    await rename(built, bin);
    say(`built helm ${HELM_VERSION} in ${Math.round((Date.now() - started) / 1000)} s into ${bin}`);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return bin;
}

/**
 * The -X flags Helm's own release build sets (its Makefile): the version `helm version` reports,
 * and the Kubernetes version that `helm template` and `helm lint` assume, which the Makefile
 * derives from the client-go release in go.mod (client-go v0.N ↔ Kubernetes 1.N).
 */
async function releaseLdflags(goModPath: string): Promise<string> {
  const goMod = await readFile(goModPath, "utf8");
  const minor = /^\s*k8s\.io\/client-go v0\.(\d+)\./m.exec(goMod)?.[1];
  if (minor === undefined) throw new Error(`no k8s.io/client-go requirement in ${goModPath}: cannot tell which Kubernetes helm ${HELM_VERSION} targets`);
  const flags = ["-s", "-w", `-X ${HELM_MODULE}/internal/version.version=${HELM_VERSION}`];
  for (const pkg of ["pkg/lint/rules", "pkg/chartutil"]) {
    flags.push(`-X ${HELM_MODULE}/${pkg}.k8sVersionMajor=1`, `-X ${HELM_MODULE}/${pkg}.k8sVersionMinor=${minor}`);
  }
  return flags.join(" ");
}
