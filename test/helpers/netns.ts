// Network-namespace helpers for root integration tests. Everything happens inside namespaces the test
// creates (`ip netns add mt-<random>`) and deletes again; the root namespace is never touched.
//
// Exported API:
//   run(argv, opts?): Promise<RunResult>                 execFile with a deadline; throws on exit ≠ 0 unless allowFail
//   createNetns(prefix = "mt", { loUp = true }?): Promise<Netns>   { name, path: /var/run/netns/<name> }
//   deleteNetns(name): Promise<void>                     ignores a namespace that is already gone
//   netnsExists(name): Promise<boolean>
//   execInNetns(ns, argv, opts?): Promise<RunResult>     `ip netns exec <ns> …`
//   listLinks(ns): Promise<LinkInfo[]>                   `ip -json -netns <ns> link`
//   listAddresses(ns): Promise<AddrInfo[]>               `ip -json -netns <ns> addr`
//   listRoutes(ns, family?: 4 | 6): Promise<RouteInfo[]> `ip -json -netns <ns> route`
//   createVethPair(a: { ns, name }, b: { ns, name }): Promise<void>   both ends up
//   setLinkUp(ns, name): Promise<void>
//   iptablesLines(ns): Promise<string[]>                 iptables-save + ip6tables-save, without
//                                                        comments, counters and COMMIT lines
//   snapshotNode(opts: ResidueScope): Promise<NodeSnapshot>
//   findResidue(before: NodeSnapshot, opts: ResidueScope): Promise<string[]>
//     What an ADD left behind after its DEL: node links that were not there before, any link but `lo`
//     left in the pod namespace, host-local lease files, iptables lines that are new and not one of
//     portmap's permanent CNI-HOSTPORT-* chains (or that mention the container ID), cache files.
//     An empty list means clean.
//   settledResidue(before, scope, { timeoutMs = 5000, ignore? }?): Promise<string[]>
//     findResidue, polled until it is empty or the time is up: the kernel tears down the host end of a
//     veth asynchronously after its namespace is deleted, so a check right after `ip netns delete`
//     can see a link that is already on its way out. A real leak is still reported at the deadline.

import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { access, readdir, stat } from "node:fs/promises";
import { join } from "node:path";

export interface RunResult {
  stdout: string;
  stderr: string;
  code: number;
}

export interface RunOptions {
  input?: string;
  timeoutMs?: number;
  allowFail?: boolean;
  env?: Record<string, string | undefined>;
}

export function run(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const [file, ...args] = argv;
  if (file === undefined) return Promise.reject(new Error("run: empty argv"));
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      { timeout: opts.timeoutMs ?? 20_000, killSignal: "SIGKILL", maxBuffer: 64 * 1024 * 1024, env: opts.env ?? process.env },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === "number" ? err.code : -1;
        if (err !== null && (opts.allowFail !== true || typeof err.code !== "number")) {
          reject(new Error(`${argv.join(" ")} failed (${err.message}): ${stderr}`));
          return;
        }
        resolve({ stdout, stderr, code });
      },
    );
    // A command that never reads stdin may close it first: that EPIPE is not a failure of ours.
    child.stdin?.on("error", () => undefined);
    // A child that never reads stdin may exit first: writing to it would raise EPIPE later.
    child.stdin?.on("error", () => undefined);
    if (opts.input === undefined) child.stdin?.end();
    else child.stdin?.end(opts.input);
  });
}

export interface Netns {
  name: string;
  path: string;
}

export async function createNetns(prefix = "mt", opts: { loUp?: boolean } = {}): Promise<Netns> {
  const name = `${prefix}-${randomBytes(4).toString("hex")}`;
  await run(["ip", "netns", "add", name]);
  // A namespace starts with lo down; most tests want it up (the loopback plugin's test does not).
  try {
    if (opts.loUp !== false) await run(["ip", "-netns", name, "link", "set", "lo", "up"]);
  } catch (err) {
    await run(["ip", "netns", "delete", name], { allowFail: true });
    throw err;
  }
  return { name, path: `/var/run/netns/${name}` };
}

export async function netnsExists(name: string): Promise<boolean> {
  try {
    await access(`/var/run/netns/${name}`);
    return true;
  } catch {
    return false;
  }
}

export async function deleteNetns(name: string): Promise<void> {
  if (!(await netnsExists(name))) return;
  await run(["ip", "netns", "delete", name]);
}

export function execInNetns(ns: string, argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return run(["ip", "netns", "exec", ns, ...argv], opts);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

async function ipJson(ns: string, args: readonly string[]): Promise<Record<string, unknown>[]> {
  const { stdout } = await run(["ip", "-json", "-netns", ns, ...args]);
  const text = stdout.trim();
  if (text === "") return [];
  const parsed: unknown = JSON.parse(text);
  if (!Array.isArray(parsed) || !parsed.every(isRecord)) throw new Error(`ip ${args.join(" ")}: unexpected output ${text}`);
  return parsed;
}

function str(o: Record<string, unknown>, k: string): string | undefined {
  const v = o[k];
  return typeof v === "string" ? v : undefined;
}

export interface LinkInfo {
  ifname: string;
  ifindex: number;
  address?: string;
  mtu?: number;
  master?: string;
  operstate?: string;
  /** Kind from `ip -d`: veth, bridge, macvlan, ifb… */
  kind?: string;
  raw: Record<string, unknown>;
}

export async function listLinks(ns: string): Promise<LinkInfo[]> {
  const rows = await ipJson(ns, ["-d", "link", "show"]);
  return rows.map((r) => {
    const ifname = str(r, "ifname");
    if (ifname === undefined || typeof r.ifindex !== "number") throw new Error(`ip link: row without ifname/ifindex: ${JSON.stringify(r)}`);
    const info = isRecord(r.linkinfo) ? r.linkinfo : {};
    const link: LinkInfo = { ifname, ifindex: r.ifindex, raw: r };
    const address = str(r, "address");
    if (address !== undefined) link.address = address;
    if (typeof r.mtu === "number") link.mtu = r.mtu;
    const master = str(r, "master");
    if (master !== undefined) link.master = master;
    const operstate = str(r, "operstate");
    if (operstate !== undefined) link.operstate = operstate;
    const kind = str(info, "info_kind");
    if (kind !== undefined) link.kind = kind;
    return link;
  });
}

export interface AddrInfo {
  ifname: string;
  /** "a.b.c.d/nn" or "x::y/nn", global and link scope alike. */
  addresses: { family: "inet" | "inet6"; cidr: string; scope: string }[];
}

export async function listAddresses(ns: string): Promise<AddrInfo[]> {
  const rows = await ipJson(ns, ["addr", "show"]);
  return rows.map((r) => {
    const ifname = str(r, "ifname") ?? "";
    const infos = Array.isArray(r.addr_info) ? r.addr_info.filter(isRecord) : [];
    return {
      ifname,
      addresses: infos.map((a) => ({
        family: str(a, "family") === "inet6" ? ("inet6" as const) : ("inet" as const),
        cidr: `${str(a, "local") ?? ""}/${String(a.prefixlen)}`,
        scope: str(a, "scope") ?? "",
      })),
    };
  });
}

export interface RouteInfo {
  dst: string;
  gateway?: string;
  dev?: string;
  raw: Record<string, unknown>;
}

export async function listRoutes(ns: string, family: 4 | 6 = 4): Promise<RouteInfo[]> {
  const rows = await ipJson(ns, [family === 6 ? "-6" : "-4", "route", "show"]);
  return rows.map((r) => {
    const route: RouteInfo = { dst: str(r, "dst") ?? "", raw: r };
    const gw = str(r, "gateway");
    if (gw !== undefined) route.gateway = gw;
    const dev = str(r, "dev");
    if (dev !== undefined) route.dev = dev;
    return route;
  });
}

export async function setLinkUp(ns: string, name: string): Promise<void> {
  await run(["ip", "-netns", ns, "link", "set", name, "up"]);
}

export async function createVethPair(a: { ns: string; name: string }, b: { ns: string; name: string }): Promise<void> {
  await run(["ip", "-netns", a.ns, "link", "add", a.name, "type", "veth", "peer", "name", b.name, "netns", b.ns]);
  await setLinkUp(a.ns, a.name);
  await setLinkUp(b.ns, b.name);
}

export async function iptablesLines(ns: string): Promise<string[]> {
  const out: string[] = [];
  for (const tool of ["iptables-save", "ip6tables-save"]) {
    const { stdout } = await execInNetns(ns, [tool]);
    for (const line of stdout.split("\n")) {
      if (line === "" || line.startsWith("#") || line === "COMMIT") continue;
      // Chain declarations carry packet counters: ":CHAIN POLICY [0:0]".
      out.push(`${tool === "iptables-save" ? "4" : "6"} ${line.replace(/ \[\d+:\d+\]$/, "")}`);
    }
  }
  return out;
}

export interface ResidueScope {
  nodeNs: string;
  podNs?: string;
  hostLocalDataDir?: string;
  cacheDir?: string;
  containerId?: string;
}

export interface NodeSnapshot {
  links: string[];
  iptables: string[];
}

export async function snapshotNode(scope: ResidueScope): Promise<NodeSnapshot> {
  return {
    links: (await listLinks(scope.nodeNs)).map((l) => l.ifname).sort(),
    iptables: await iptablesLines(scope.nodeNs),
  };
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return out;
  }
  for (const n of names) {
    const p = join(dir, n);
    const st = await stat(p);
    if (st.isDirectory()) out.push(...(await filesUnder(p)));
    else out.push(p);
  }
  return out;
}

// portmap creates these once per node and leaves them (and the jumps to them) in place by design.
const PERMANENT_IPTABLES = /CNI-HOSTPORT-(DNAT|SNAT|MASQ|SETMARK)/;
// A table that gets loaded shows up with its built-in chains: that is not a rule anybody left behind.
const TABLE_SKELETON = /^[46] (\*\w+|:(PREROUTING|INPUT|OUTPUT|POSTROUTING|FORWARD) (ACCEPT|DROP))$/;

export async function findResidue(before: NodeSnapshot, scope: ResidueScope): Promise<string[]> {
  const residue: string[] = [];
  const links = new Set(before.links);
  for (const l of await listLinks(scope.nodeNs)) {
    if (!links.has(l.ifname)) residue.push(`node link ${l.ifname} (${l.kind ?? "?"})`);
  }
  if (scope.podNs !== undefined && (await netnsExists(scope.podNs))) {
    for (const l of await listLinks(scope.podNs)) {
      if (l.ifname !== "lo") residue.push(`pod link ${l.ifname} (${l.kind ?? "?"})`);
    }
  }
  if (scope.hostLocalDataDir !== undefined) {
    for (const f of await filesUnder(scope.hostLocalDataDir)) {
      const base = f.slice(f.lastIndexOf("/") + 1);
      // host-local keeps its lock file and the last-reserved marker; every other file is a lease.
      if (base === "lock" || base.startsWith("last_reserved_ip")) continue;
      residue.push(`host-local lease ${f}`);
    }
  }
  const oldRules = new Set(before.iptables);
  for (const line of await iptablesLines(scope.nodeNs)) {
    const mentionsContainer = scope.containerId !== undefined && line.includes(scope.containerId);
    if (TABLE_SKELETON.test(line)) continue;
    if (mentionsContainer || (!oldRules.has(line) && (!PERMANENT_IPTABLES.test(line) || line.includes("CNI-DN-")))) {
      residue.push(`iptables ${line}`);
    }
  }
  if (scope.cacheDir !== undefined) {
    for (const f of await filesUnder(join(scope.cacheDir, "results"))) residue.push(`cache file ${f}`);
  }
  return residue;
}

export async function settledResidue(before: NodeSnapshot, scope: ResidueScope, opts: { timeoutMs?: number; ignore?: (line: string) => boolean } = {}): Promise<string[]> {
  const deadline = Date.now() + (opts.timeoutMs ?? 5000);
  for (;;) {
    const found = (await findResidue(before, scope)).filter((line) => opts.ignore?.(line) !== true);
    if (found.length === 0 || Date.now() >= deadline) return found;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
