// Node single executable applications, the one way this project makes them (scripts/build.ts for the
// shipped executables, bench/shim-node/build-sea.ts for the measured alternative): an esbuild CommonJS
// bundle, a SEA blob with the code cache, a copy of this very node binary with the blob injected by
// postject, written next to the target and renamed over it (a running plugin keeps its old inode).
import { execFileSync } from "node:child_process";
import { chmodSync, copyFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { createRequire } from "node:module";
import { build, type Plugin } from "esbuild";

const root = resolve(import.meta.dirname, "..");

/**
 * Node built-ins whose loading a CNI call should not pay for unless it uses them: importing
 * node:child_process costs ≈ 2.3 ms (it loads net and dgram), node:fs/promises ≈ 1.3 ms (readline),
 * at every start of every thin call (docs/performance.md). The bundle imports them through a
 * module of wrappers that load the built-in on first call (process.getBuiltinModule). Only
 * functions are wrapped: importing anything else from them fails the build.
 */
const LAZY_BUILTINS: readonly string[] = ["node:child_process", "node:fs/promises", "node:timers/promises"];

function lazyBuiltins(): Plugin {
  const require = createRequire(import.meta.url);
  return {
    name: "lazy-builtins",
    setup(b) {
      b.onResolve({ filter: /^node:/ }, (args) => (LAZY_BUILTINS.includes(args.path) && args.namespace === "file" ? { path: args.path, namespace: "lazy-builtin" } : undefined));
      b.onLoad({ filter: /.*/, namespace: "lazy-builtin" }, (args) => {
        const real = require(args.path) as Record<string, unknown>;
        const names = Object.keys(real).filter((k) => typeof real[k] === "function" && /^[A-Za-z_$][\w$]*$/.test(k));
        const lines = [`let m;`, `const load = () => (m ??= process.getBuiltinModule(${JSON.stringify(args.path)}));`];
        for (const n of names) lines.push(`export function ${n}(...a) { return load().${n}(...a); }`);
        return { contents: lines.join("\n"), loader: "js" };
      });
    },
  };
}

/** One CommonJS bundle of `entry` (SEA runs a CommonJS main script). */
export async function bundle(entry: string, outfile: string): Promise<void> {
  await build({
    plugins: [lazyBuiltins()],
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: "node",
    target: "node24",
    format: "cjs",
    minifyWhitespace: true,
    minifySyntax: true,
    sourcemap: false,
    legalComments: "none",
    logLevel: "warning",
  });
}

/** `out` becomes a SEA running `bundlePath`, with `execArgv` baked in; intermediate files go to `workDir`. */
export function makeSea(bundlePath: string, out: string, workDir: string, execArgv: readonly string[] = []): void {
  const name = basename(out);
  const blob = join(workDir, `${name}.blob`);
  const seaConfig = join(workDir, `${name}.sea.json`);
  writeFileSync(seaConfig, JSON.stringify({ main: bundlePath, output: blob, disableExperimentalSEAWarning: true, useCodeCache: true, useSnapshot: false, execArgv }));
  execFileSync(process.execPath, ["--experimental-sea-config", seaConfig], { stdio: ["ignore", "ignore", "pipe"] });
  const tmp = join(dirname(out), `.${name}.tmp`);
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
  renameSync(tmp, out);
  if (statSync(out).size === 0) throw new Error(`empty executable ${out}`);
}
