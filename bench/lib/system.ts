// What the bench reads from the machine: CPU time and memory of processes (/proc), the API server's
// request counters (apiserver_request_total), and a description of the machine and its load.
//
// Exported API:
//   cpuMs(pid | "self-children"): number   CPU ms of a process (user+system, itself and its reaped
//                                          children), or of this process's reaped children only
//   ownCpuMs(pid): number                  CPU ms of the process itself (its threads), without children
//   dropFileCache(path): void              the file's pages leave the page cache (dd iflag=nocache):
//                                          an executable then starts as after a reboot, whatever wrote it
//   memoryMiB(pid, field): number          VmRSS, VmHWM (peak) or RssAnon from /proc/<pid>/status
//   apiRequests(): Promise<Map<string, number>>   "VERB resource[/subresource]" → count, workload only
//   diffCounts(before, after): { total, byKind }
//   machine(): string                      CPU model and count, memory, kernel, load, Node, Kubernetes
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { cpus, loadavg, release, totalmem } from "node:os";
import { kubectl } from "../../test/cluster/harness.ts";

const TICKS_PER_SECOND = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;

export function cpuMs(pid: number | "self-children"): number {
  const text = readFileSync(`/proc/${pid === "self-children" ? "self" : String(pid)}/stat`, "utf8");
  // Fields after the command name (which may hold spaces) start at field 3; utime is field 14.
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  const at = (n: number): number => Number(fields[n - 3] ?? "0");
  const ticks = pid === "self-children" ? at(16) + at(17) : at(14) + at(15) + at(16) + at(17);
  return (ticks * 1000) / TICKS_PER_SECOND;
}

export function ownCpuMs(pid: number): number {
  const text = readFileSync(`/proc/${String(pid)}/stat`, "utf8");
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return ((Number(fields[11] ?? "0") + Number(fields[12] ?? "0")) * 1000) / TICKS_PER_SECOND;
}

/**
 * How a binary's pages came into the page cache decides how much of it a process maps: a file just
 * written (the SEA by postject, upstream's by go build) sits in large folios that a page fault maps
 * whole, and the same daemon shows ≈ 20 MiB more RSS than after the file was read back from disk.
 * Dropping the file's cached pages (posix_fadvise DONTNEED through dd; this file only, not the
 * machine's caches) before each daemon starts measures every implementation as a node runs it.
 */
export function dropFileCache(path: string): void {
  execFileSync("dd", [`if=${path}`, "iflag=nocache", "count=0", "status=none"]);
}

export function memoryMiB(pid: number, field: "VmRSS" | "VmHWM" | "RssAnon" | "RssFile"): number {
  const status = readFileSync(`/proc/${String(pid)}/status`, "utf8");
  return Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? "NaN") / 1024;
}

/**
 * The API server's own housekeeping (its lease, the kubernetes Service's endpoints, flow-control
 * config) runs whatever the bench does; watches are long-running and opened before the rounds.
 * Everything else between two scrapes is the workload's: the bench makes no API request meanwhile.
 */
const HOUSEKEEPING = new Set(["leases", "endpoints", "endpointslices", "services", "apiservices", "flowschemas", "prioritylevelconfigurations", "namespaces"]);

export async function apiRequests(): Promise<Map<string, number>> {
  const text = await kubectl(["get", "--raw", "/metrics"]);
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (!line.startsWith("apiserver_request_total{")) continue;
    const labels = new Map<string, string>([...line.matchAll(/(\w+)="([^"]*)"/g)].map((m): [string, string] => [m[1] ?? "", m[2] ?? ""]));
    const resource = labels.get("resource") ?? "";
    const verb = labels.get("verb") ?? "";
    if (resource === "" || verb === "WATCH" || HOUSEKEEPING.has(resource)) continue;
    const sub = labels.get("subresource") ?? "";
    const kind = `${verb} ${resource}${sub === "" ? "" : `/${sub}`}`;
    out.set(kind, (out.get(kind) ?? 0) + Number(line.slice(line.lastIndexOf(" ") + 1)));
  }
  return out;
}

export function diffCounts(before: Map<string, number>, after: Map<string, number>): { total: number; byKind: Map<string, number> } {
  const byKind = new Map<string, number>();
  let total = 0;
  for (const [kind, n] of after) {
    const d = n - (before.get(kind) ?? 0);
    if (d > 0) {
      byKind.set(kind, d);
      total += d;
    }
  }
  return { total, byKind };
}

export function machine(kubernetesVersion: string): string {
  const cpu = cpus();
  const [l1 = 0, l5 = 0] = loadavg();
  return [
    `${String(cpu.length)} × ${cpu[0]?.model.trim() ?? "unknown CPU"}`,
    `${(totalmem() / 2 ** 30).toFixed(0)} GiB`,
    `Linux ${release()}`,
    `load ${l1.toFixed(2)} / ${l5.toFixed(2)} (1 / 5 min)`,
    `Node ${process.version}`,
    `kube-apiserver ${kubernetesVersion}`,
  ].join(", ");
}
