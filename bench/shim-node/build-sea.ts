// Not product code: bundles bench/shim-node/multus-shim.ts with esbuild and makes it a Node single
// executable application with the very steps of scripts/build.ts (buildSea there: same esbuild
// options, SEA config, postject sentinel), so that bench/shim-startup.ts measures what shipping the
// shim as a SEA would cost.
import { execFileSync } from "node:child_process";
import { chmodSync, copyFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { build } from "esbuild";

const root = resolve(import.meta.dirname, "..", "..");

/** Build outDir/multus-shim-node (a SEA); returns its path. */
export async function buildNodeShimSea(outDir: string): Promise<string> {
  const name = "multus-shim-node";
  const bundle = join(outDir, `${name}.cjs`);
  await build({
    entryPoints: [join(root, "bench", "shim-node", "multus-shim.ts")],
    outfile: bundle,
    bundle: true,
    platform: "node",
    target: "node24",
    format: "cjs",
    minify: false,
    sourcemap: false,
    legalComments: "none",
    logLevel: "warning",
  });
  const blob = join(outDir, `${name}.blob`);
  const seaConfig = join(outDir, `${name}.sea.json`);
  writeFileSync(
    seaConfig,
    JSON.stringify({ main: bundle, output: blob, disableExperimentalSEAWarning: true, useCodeCache: true, useSnapshot: false }),
  );
  execFileSync(process.execPath, ["--experimental-sea-config", seaConfig], { stdio: ["ignore", "ignore", "pipe"] });
  const tmp = join(outDir, `.${name}.tmp`);
  rmSync(tmp, { force: true });
  copyFileSync(process.execPath, tmp);
  chmodSync(tmp, 0o755);
  const postject = join(root, "node_modules", "postject", "dist", "cli.js");
  execFileSync(
    process.execPath,
    [postject, tmp, "NODE_SEA_BLOB", blob, "--sentinel-fuse", "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2"],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  const out = join(outDir, name);
  renameSync(tmp, out);
  return out;
}
