// Replays the sandbox that upstream Go Multus's own record in test/fixtures/upstream-multus describes:
// every delegate of the record ADDed (with the runner, as a runtime would) under the interface name
// and requests upstream used, the libcni cache in the bed's cniDir, and upstream's scratch cache
// copied in as `<cniDir>/<containerID>` — what a node upgraded in place from upstream holds.
import { copyFile, readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { ConflistRunner, parseNetworkConfig, parseNetworkConfigList } from "../../src/cni/conflist-runner.ts";
import { REF_PLUGINS, type KubeBed, type TestPod } from "./kube-bed.ts";

export const UPSTREAM_FIXTURE = new URL("../fixtures/upstream-multus/", import.meta.url).pathname;
/** The fixed paths inside the fixture's configs: host-local's dataDir, under a directory of its own. */
const UPSTREAM_FIXED = "/tmp/multus-ts-upstream-fixture";
export const UPSTREAM_IPAM = `${UPSTREAM_FIXED}/ipam`;

interface UpstreamRecord {
  Bytes: string;
  ifnameRequest?: string;
  ipRequest?: string[];
  macRequest?: string;
}

export async function replayUpstreamSandbox(t: TestContext, bed: KubeBed, p: TestPod): Promise<void> {
  const record = join(UPSTREAM_FIXTURE, "scratch", "upstreamfixture0");
  const records = JSON.parse(await readFile(record, "utf8")) as UpstreamRecord[];
  await rm(UPSTREAM_FIXED, { recursive: true, force: true });
  t.after(() => rm(UPSTREAM_FIXED, { recursive: true, force: true }));
  const runner = new ConflistRunner({ cacheDir: bed.cniDir, pluginDirs: [REF_PLUGINS], timeoutMs: 20_000, launcher: ["ip", "netns", "exec", bed.node.name] });
  for (const [i, r] of records.entries()) {
    const raw = Buffer.from(r.Bytes, "base64");
    const list = "plugins" in (JSON.parse(raw.toString()) as object) ? parseNetworkConfigList(raw) : parseNetworkConfig(raw);
    const capabilityArgs = { ...(r.ipRequest === undefined ? {} : { ips: r.ipRequest }), ...(r.macRequest === undefined ? {} : { mac: r.macRequest }) };
    // Upstream's naming: the request, else CNI_IFNAME for the cluster network, else net<position>.
    const ifName = r.ifnameRequest ?? (i === 0 ? "eth0" : `net${String(i)}`);
    await runner.addNetworkList(list, { containerId: p.containerId, netns: p.netns.path, ifName, args: [["IgnoreUnknown", "true"]], capabilityArgs });
  }
  await copyFile(record, join(bed.cniDir, p.containerId));
}

/** host-local leases left under the fixture's dataDir, as "<network>/<ip>". */
export async function upstreamLeases(): Promise<string[]> {
  const out: string[] = [];
  for (const net of await readdir(UPSTREAM_IPAM).catch(() => [])) {
    out.push(...(await readdir(join(UPSTREAM_IPAM, net))).filter((n) => /^[0-9.]+$/.test(n)).map((n) => `${net}/${n}`));
  }
  return out;
}
