// Upstream Multus's Go executables, built from the Go module proxy at the version the project
// compares with, cached in ~/.cache/multus-ts/upstream-multus-<version>/ (the first build ≈ 20 s on two
// cores; later runs reuse it). Used by the compatibility tests and the benchmarks; never shipped.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, renameSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

export const UPSTREAM_MODULE = "gopkg.in/k8snetworkplumbingwg/multus-cni.v4";
export const UPSTREAM_VERSION = "v4.3.0";

/** The path of upstream's `cmd/<name>` binary (multus, multus-shim, multus-daemon), built when missing. */
export function upstreamBinary(name: "multus" | "multus-shim" | "multus-daemon"): string {
  const dir = join(process.env["XDG_CACHE_HOME"] ?? join(homedir(), ".cache"), "multus-ts", `upstream-multus-${UPSTREAM_VERSION}`);
  const bin = join(dir, name);
  if (existsSync(bin)) return bin;
  mkdirSync(dir, { recursive: true });
  const info = JSON.parse(execFileSync("go", ["mod", "download", "-json", `${UPSTREAM_MODULE}@${UPSTREAM_VERSION}`], { encoding: "utf8" })) as { Dir: string };
  const tmp = `${bin}.tmp-${String(process.pid)}`;
  execFileSync("go", ["build", "-o", tmp, `./cmd/${name}`], { cwd: info.Dir, env: { ...process.env, GOFLAGS: "-mod=mod", CGO_ENABLED: "0" }, stdio: ["ignore", "ignore", "inherit"] });
  renameSync(tmp, bin);
  return bin;
}
