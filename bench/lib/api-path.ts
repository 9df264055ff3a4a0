// The bench's API path must not flatter or penalise anyone: the node namespace reaches kube-apiserver
// through test/helpers/api-bridge.ts, which must add no stall (with Nagle's algorithm on a leg, a
// request written in two segments waited ≈ 40 ms for a delayed ACK, and every figure measured
// through it was inflated: docs/performance.md, "The API path"). Checked at the start of every run:
// a GET on a fresh TLS connection (curl, which disables Nagle as Go and Node do), from inside the node
// namespace through the bridge and from the root namespace directly, alternately; curl's own
// time_total, so process start-up is not counted.
//
// Exported API:
//   checkApiPath(bed, rounds?): Promise<ApiPathCheck>   with the bridge's delay at 0
//   interface ApiPathCheck { bridgeMs, directMs, addedMs, rounds }   medians (ms)
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { KubeBed } from "../../test/helpers/kube-bed.ts";
import { run } from "../../test/helpers/netns.ts";
import { summarize } from "./stats.ts";

export interface ApiPathCheck {
  bridgeMs: number;
  directMs: number;
  /** bridgeMs − directMs: what the bridge itself adds to a fresh-TLS request. */
  addedMs: number;
  rounds: number;
}

export async function checkApiPath(bed: KubeBed, rounds = 21): Promise<ApiPathCheck> {
  const kc = JSON.parse(await readFile(bed.kubeconfig, "utf8")) as { clusters: { cluster: { server: string; "certificate-authority-data": string } }[]; users: { user: { token: string } }[] };
  const cluster = kc.clusters[0]?.cluster;
  const token = kc.users[0]?.user.token;
  if (cluster === undefined || token === undefined) throw new Error(`${bed.kubeconfig}: no server or token`);
  const ca = join(bed.state, "api-path-ca.crt");
  await writeFile(ca, Buffer.from(cluster["certificate-authority-data"], "base64"));
  const headers = join(bed.state, "api-path-headers");
  await writeFile(headers, `Authorization: Bearer ${token}\n`, { mode: 0o600 });
  const url = `${cluster.server}/apis/k8s.cni.cncf.io/v1/namespaces/kube-system/network-attachment-definitions`;
  const curl = ["curl", "-s", "-o", "/dev/null", "--cacert", ca, "-H", `@${headers}`, "-w", "%{http_code} %{time_total}", url];
  const once = async (argv: string[]): Promise<number> => {
    const r = await run(argv);
    const [code = "", total = ""] = r.stdout.trim().split(" ");
    if (code !== "200") throw new Error(`API path check: ${argv.join(" ")} answered ${code}`);
    return Number(total) * 1000;
  };
  const bridge: number[] = [];
  const direct: number[] = [];
  for (let i = 0; i < rounds + 2; i++) {
    const b = await once(["ip", "netns", "exec", bed.node.name, ...curl]);
    const d = await once(curl);
    if (i < 2) continue;
    bridge.push(b);
    direct.push(d);
  }
  const bridgeMs = summarize(bridge).p50;
  const directMs = summarize(direct).p50;
  return { bridgeMs, directMs, addedMs: bridgeMs - directMs, rounds };
}
