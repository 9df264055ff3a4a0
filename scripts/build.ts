// Build every executable: one esbuild bundle per entry point (dist/bundle/<name>.cjs), then a Node
// single executable application (dist/bin/<name>) for the executables a host runs, since hosts have
// no Node. Usage: node scripts/build.ts [--bundle-only] [name...]
import { execFileSync } from "node:child_process";
import { copyFileSync, chmodSync, mkdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { build } from "esbuild";

const root = resolve(import.meta.dirname, "..");
const bundleDir = join(root, "dist", "bundle");
const binDir = join(root, "dist", "bin");

/** Entry points built today; later issues add multus-shim, multus-daemon, multus-install, multusctl, vfioveth. */
const EXECUTABLES = ["multus", "passthru"] as const;

const { values, positionals } = parseArgs({ options: { "bundle-only": { type: "boolean" } }, allowPositionals: true });
const wanted = positionals.length > 0 ? positionals : [...EXECUTABLES];

mkdirSync(bundleDir, { recursive: true });
mkdirSync(binDir, { recursive: true });

for (const name of wanted) {
  const started = performance.now();
  const bundle = join(bundleDir, `${name}.cjs`);
  await build({
    entryPoints: [join(root, "src", "cmd", `${name}.ts`)],
    outfile: bundle,
    bundle: true,
    platform: "node",
    target: "node24",
    // SEA runs a CommonJS main script.
    format: "cjs",
    minify: false,
    sourcemap: false,
    legalComments: "none",
    logLevel: "warning",
  });
  if (values["bundle-only"] !== true) buildSea(name, bundle);
  console.log(`built ${name} in ${Math.round(performance.now() - started)} ms`);
}

/** Node SEA: generate the blob, copy this very node binary, inject the blob (postject). */
function buildSea(name: string, bundle: string): void {
  const blob = join(bundleDir, `${name}.blob`);
  const seaConfig = join(bundleDir, `${name}.sea.json`);
  writeFileSync(
    seaConfig,
    JSON.stringify({ main: bundle, output: blob, disableExperimentalSEAWarning: true, useCodeCache: true, useSnapshot: false }),
  );
  execFileSync(process.execPath, ["--experimental-sea-config", seaConfig], { stdio: ["ignore", "ignore", "pipe"] });
  // Write next to the target and rename: a running plugin keeps its old inode ("text file busy").
  const tmp = join(binDir, `.${name}.tmp`);
  rmSync(tmp, { force: true });
  copyFileSync(process.execPath, tmp);
  chmodSync(tmp, 0o755);
  const postject = join(root, "node_modules", "postject", "dist", "cli.js");
  execFileSync(
    process.execPath,
    [postject, tmp, "NODE_SEA_BLOB", blob, "--sentinel-fuse", "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2"],
    // postject warns about ELF note sections it does not need; its stderr is shown only on failure.
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  renameSync(tmp, join(binDir, name));
  if (statSync(join(binDir, name)).size === 0) throw new Error(`empty executable dist/bin/${name}`);
}
