// Benchmark: ADD+DEL latency of one pod sandbox, dist/bin/multus (config-file mode) against the raw
// delegate floor (the bridge plugin alone), inside throw-away namespaces. Prints medians and p90s;
// nothing is asserted (timings are not tests). Run as root after the build:
//   node bench/attach.ts [iterations=30]
// NODE_EXTRA_CA_CERTS is unset for the plugins: it adds ≈ 50 ms to every Node start (machine-notes).
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createNetns, deleteNetns, run } from "../test/helpers/netns.ts";
import { binPath } from "../test/helpers/run-executable.ts";

const iterations = Number(process.argv[2] ?? "30");
const REF = "/usr/lib/cni";
const env = { ...process.env };
delete env["NODE_EXTRA_CA_CERTS"];

const node = await createNetns("mt-bench-node");
const pod = await createNetns("mt-bench-pod");
const state = await mkdtemp(join(tmpdir(), "mt-bench-"));
try {
  const bridge = (name: string, subnet: string): Record<string, unknown> => ({
    cniVersion: "1.0.0", name, type: "bridge", bridge: `mtb-${name}`, isGateway: true,
    ipam: { type: "host-local", subnet, dataDir: join(state, "ipam") },
  });
  const cases: { name: string; argv: string[]; conf: Record<string, unknown> }[] = [
    { name: "bridge plugin alone (floor)", argv: [join(REF, "bridge")], conf: bridge("a", "10.91.0.0/16") },
    {
      name: "multus, 1 delegate",
      argv: [binPath("multus")],
      conf: { cniVersion: "1.0.0", name: "m", type: "multus", cniDir: join(state, "m1"), binDir: REF, delegates: [bridge("a", "10.91.0.0/16")] },
    },
    {
      name: "multus, 3 delegates",
      argv: [binPath("multus")],
      conf: {
        cniVersion: "1.0.0", name: "m", type: "multus", cniDir: join(state, "m3"), binDir: REF,
        delegates: [bridge("a", "10.91.0.0/16"), bridge("b", "10.92.0.0/16"), bridge("c", "10.93.0.0/16")],
      },
    },
  ];
  for (const c of cases) {
    const add: number[] = [];
    const del: number[] = [];
    for (let i = 0; i < iterations; i++) {
      const call = async (command: string): Promise<number> => {
        const started = performance.now();
        await run(["ip", "netns", "exec", node.name, ...c.argv], {
          input: JSON.stringify(c.conf),
          env: { ...env, CNI_COMMAND: command, CNI_CONTAINERID: `bench${String(i)}`, CNI_NETNS: pod.path, CNI_IFNAME: "eth0", CNI_PATH: REF },
        });
        return performance.now() - started;
      };
      add.push(await call("ADD"));
      del.push(await call("DEL"));
    }
    console.log(`${c.name.padEnd(30)} ADD ${fmt(add)}   DEL ${fmt(del)}`);
  }
} finally {
  await deleteNetns(pod.name);
  await deleteNetns(node.name);
  await rm(state, { recursive: true, force: true });
}

function fmt(samples: number[]): string {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number): number => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? 0;
  return `median ${at(0.5).toFixed(1)} ms, p90 ${at(0.9).toFixed(1)} ms (n=${String(s.length)})`;
}
