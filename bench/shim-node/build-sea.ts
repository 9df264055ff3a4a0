// Not product code: bundles bench/shim-node/multus-shim.ts with esbuild and makes it a Node single
// executable application with the very code scripts/build.ts uses (scripts/sea.ts), so that
// bench/shim-startup.ts measures what shipping the shim as a SEA would cost.
import { join, resolve } from "node:path";
import { bundle, makeSea } from "../../scripts/sea.ts";

const root = resolve(import.meta.dirname, "..", "..");

/** Build outDir/multus-shim-node (a SEA); returns its path. */
export async function buildNodeShimSea(outDir: string): Promise<string> {
  const name = "multus-shim-node";
  const bundlePath = join(outDir, `${name}.cjs`);
  await bundle(join(root, "bench", "shim-node", "multus-shim.ts"), bundlePath);
  const out = join(outDir, name);
  makeSea(bundlePath, out, outDir);
  return out;
}
