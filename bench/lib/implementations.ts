// The Multus-compatible implementations the bench compares. An implementation is a directory with
// the three executables under upstream's names: `multus` (thin plugin), `multus-shim` (thick-mode
// shim) and `multus-daemon`; every scenario runs each implementation the same way (the same config,
// the same daemon config, the same pods), so another build is compared by naming its directory.
//
// Exported API:
//   interface Implementation { label, version, dir, thin, shim, daemon }
//   resolveImplementations(specs): Implementation[]
//     "ours"      dist/bin of this work tree (node scripts/build.ts)
//     "upstream"  upstream Multus v4.3.0 built from the Go module proxy (the optional step, ≈ 20 s once)
//     "<label>=<dir>"  any other directory holding multus, multus-shim, multus-daemon
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { repoRoot } from "../../test/helpers/run-executable.ts";
import { UPSTREAM_VERSION, upstreamBinary } from "../../test/helpers/upstream-build.ts";

export interface Implementation {
  label: string;
  version: string;
  dir: string;
  thin: string;
  shim: string;
  daemon: string;
}

function fromDir(label: string, dir: string, version: string): Implementation {
  const impl = { label, version, dir, thin: join(dir, "multus"), shim: join(dir, "multus-shim"), daemon: join(dir, "multus-daemon") };
  for (const path of [impl.thin, impl.shim, impl.daemon]) if (!existsSync(path)) throw new Error(`implementation ${label}: ${path} is missing`);
  return impl;
}

function ourVersion(): string {
  try {
    const rev = execFileSync("git", ["-C", repoRoot, "rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim();
    const dirty = execFileSync("git", ["-C", repoRoot, "status", "--porcelain", "--untracked-files=no"], { encoding: "utf8" }).trim() !== "";
    return `${rev}${dirty ? "+changes" : ""}`;
  } catch {
    return "unknown";
  }
}

export function resolveImplementations(specs: readonly string[]): Implementation[] {
  return specs.map((spec) => {
    if (spec === "ours") return fromDir("Multus-TS", join(repoRoot, "dist", "bin"), ourVersion());
    if (spec === "upstream") {
      for (const name of ["multus", "multus-shim", "multus-daemon"] as const) upstreamBinary(name);
      return fromDir("upstream", dirname(upstreamBinary("multus")), UPSTREAM_VERSION);
    }
    const eq = spec.indexOf("=");
    if (eq <= 0) throw new Error(`--impl ${spec}: give "ours", "upstream" or <label>=<directory with multus, multus-shim, multus-daemon>`);
    return fromDir(spec.slice(0, eq), resolve(spec.slice(eq + 1)), "as given");
  });
}
