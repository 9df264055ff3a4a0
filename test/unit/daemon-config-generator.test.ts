// The daemon's CNI config generator (src/install/config-generator.ts) on temp directories: the master
// choice (alphabetically first, never a Multus config, never the next file while the first is being
// written), the generated file (conflist for ≥ 1.0.0, cniVersion from the master by default, the union
// of capabilities, the daemon's thin keys), and copy mode carrying those keys too. The watching,
// re-asserting and SIGTERM behaviour run against the real daemon in test/integration/multus-thick.test.ts.
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, test } from "node:test";
import { ConfigGenerator } from "../../src/install/config-generator.ts";
import { parseDaemonConfig } from "../../src/daemon/daemon-config.ts";
import { createLogger } from "../../src/util/logger.ts";

let dir: string;
const lines: string[] = [];
const log = createLogger({ level: "debug", stderr: (l) => lines.push(l), component: "test" });

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "mt-gen-"));
  lines.length = 0;
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function generate(daemon: Record<string, unknown>): Promise<{ files: string[]; json: Record<string, unknown> | undefined }> {
  const g = new ConfigGenerator({ config: parseDaemonConfig({ cniConfigDir: dir, ...daemon }, "daemon-config.json"), log });
  await g.sync("test");
  await g.stop();
  const files = (await readdir(dir)).filter((f) => f.startsWith("00-multus")).sort();
  const first = files[0];
  return { files, json: first === undefined ? undefined : (JSON.parse(await readFile(join(dir, first), "utf8")) as Record<string, unknown>) };
}

describe("config generator", () => {
  test("the alphabetically first config that is not Multus's is the master; cniVersion from the master; capabilities merged; thin keys carried", async () => {
    await writeFile(join(dir, "05-old-multus.conf"), JSON.stringify({ cniVersion: "0.3.1", name: "m", type: "multus" }));
    await writeFile(join(dir, "10-flannel.conflist"), JSON.stringify({ cniVersion: "0.3.1", name: "cbr0", plugins: [{ type: "flannel" }, { type: "portmap", capabilities: { portMappings: true } }] }));
    await writeFile(join(dir, "20-other.conf"), JSON.stringify({ cniVersion: "1.0.0", name: "other", type: "bridge" }));
    const { files, json } = await generate({ capabilities: { bandwidth: true }, namespaceIsolation: true, socketDir: "/run/x" });
    assert.deepEqual(files, ["00-multus.conf"], "cniVersion 0.3.1 (the master's) gives a .conf");
    assert.deepEqual(json, {
      cniVersion: "0.3.1", name: "multus-cni-network", type: "multus-shim", namespaceIsolation: true,
      clusterNetwork: join(dir, "10-flannel.conflist"), daemonSocketDir: "/run/x", capabilities: { bandwidth: true, portMappings: true },
    });
  });

  test("a first-in-line master that does not parse yet changes nothing: the next file is not taken", async () => {
    await writeFile(join(dir, "10-calico.conflist"), '{"cniVersion": "1.0.0", "name": "k8s-pod-network", "plugins": [');
    await writeFile(join(dir, "20-other.conf"), JSON.stringify({ cniVersion: "1.0.0", name: "other", type: "bridge" }));
    assert.deepEqual((await generate({ cniVersion: "1.0.0" })).files, []);
    assert.ok(lines.some((l) => l.includes("10-calico.conflist is not a JSON object (being written?)")), lines.join(""));
    await writeFile(join(dir, "10-calico.conflist"), JSON.stringify({ cniVersion: "1.0.0", name: "k8s-pod-network", plugins: [{ type: "calico" }] }));
    const { files, json } = await generate({ cniVersion: "1.0.0" });
    assert.deepEqual(files, ["00-multus.conflist"]);
    assert.equal((json?.["plugins"] as Record<string, unknown>[])[0]?.["clusterNetwork"], join(dir, "10-calico.conflist"));
  });

  test("copy mode (multusConfigFile: <path>) carries the daemon's thin keys, so the shim's local DEL sees the daemon's cniDir", async () => {
    const src = join(dir, "src.conf");
    await writeFile(src, JSON.stringify({ cniVersion: "1.0.0", name: "multus-cni-network", type: "multus-shim", clusterNetwork: "k8s-pod-network", cniDir: "/old" }));
    const g = new ConfigGenerator({ config: parseDaemonConfig({ cniConfigDir: join(dir, "out"), multusConfigFile: src, cniDir: "/var/lib/cni/multus-ts" }, "d.json"), log });
    await mkdir(join(dir, "out"));
    await g.sync("test");
    await g.stop();
    const copied = JSON.parse(await readFile(join(dir, "out", "src.conf"), "utf8")) as Record<string, unknown>;
    assert.equal(copied["cniDir"], "/var/lib/cni/multus-ts");
    assert.equal(copied["clusterNetwork"], "k8s-pod-network");
  });
});
