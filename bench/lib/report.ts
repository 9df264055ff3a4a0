// The bench's output: Markdown tables (both implementations from one run, with the ratios the
// performance issue asks about) and a chart, drawn as SVG here and rendered to PNG by resvg.
//
// Exported API:
//   interface RunResults { meta, floors, sequential, bursts, daemons }
//   markdown(results): string
//   chartSvg(results): string
//   writePng(svg, path): Promise<void>
import { writeFile } from "node:fs/promises";
import type { ApiPathCheck } from "./api-path.ts";
import type { BurstResult, DelegateKind, FloorResult, Mode, SequentialResult } from "./scenarios.ts";
import type { StartupResult } from "./startup.ts";
import { ms, type Summary } from "./stats.ts";

/** One implementation in one mode at one API delay (the curve scenario). */
export interface CurvePoint {
  /** Added per direction by the API bridge (a round trip costs twice this). */
  delayMs: number;
  impl: string;
  mode: Mode;
  add: Summary;
  del: Summary;
  /** The floor's medians in the same rounds. */
  floorAdd: number;
  floorDel: number;
  errors: number;
}

export interface DaemonResult {
  impl: string;
  idleRssMiB: number;
  peakRssMiB: number;
  /** RssAnon: heap and stacks, without the executable's file pages. */
  idleAnonMiB: number;
  peakAnonMiB: number;
}

export interface RunResults {
  meta: { date: string; command: string; machine: string; loadAfter: string; rounds: number; implementations: { label: string; version: string; dir: string }[] };
  startup: StartupResult[];
  apiPath: ApiPathCheck;
  floors: FloorResult[];
  sequential: SequentialResult[];
  bursts: BurstResult[];
  daemons: DaemonResult[];
  curve: CurvePoint[];
}

const MODE_LABEL: Record<Mode, string> = { "config-file": "config-file thin", "kubernetes-thin": "Kubernetes thin", "kubernetes-thick": "Kubernetes thick" };

function floorOf(r: RunResults, kind: DelegateKind, n: number, phase: "thin" | "thick"): FloorResult | undefined {
  const same = r.floors.filter((f) => f.kind === kind && f.secondaries === n);
  return same.find((f) => f.phase === phase) ?? same[0];
}

/** Overhead over the floor, ADD and DEL medians. */
export function overhead(r: RunResults, s: SequentialResult): { add: number; del: number } {
  const f = floorOf(r, s.kind, s.secondaries, s.mode === "kubernetes-thick" ? "thick" : "thin");
  return { add: s.add.p50 - (f?.add.p50 ?? Number.NaN), del: s.del.p50 - (f?.del.p50 ?? Number.NaN) };
}

function ratio(a: number, b: number): string {
  return Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}×` : "–";
}

export function markdown(r: RunResults): string {
  const out: string[] = [];
  out.push(`Run ${r.meta.date}: \`${r.meta.command}\``, "");
  out.push(`Machine: ${r.meta.machine}; after the run: ${r.meta.loadAfter}.`, "");
  out.push(`Implementations: ${r.meta.implementations.map((i) => `${i.label} ${i.version} (${i.dir})`).join("; ")}.`, "");
  out.push(
    `API path (the node namespace's bridge to kube-apiserver, TCP_NODELAY on every leg): a GET on a fresh TLS connection takes ${ms(r.apiPath.bridgeMs)} ms through it and ${ms(r.apiPath.directMs)} ms directly (curl's time_total, p50 of ${String(r.apiPath.rounds)}, alternating): the bridge adds ${ms(r.apiPath.addedMs)} ms.`,
    "",
  );
  out.push(
    `Each row: ${String(r.meta.rounds)} sequential rounds (ADD then DEL) after 2 warm-up rounds, a fresh pod per round, on the cluster network (bridge + host-local) plus N secondary networks; every round runs the floor and each implementation in turn. In thick mode one daemon runs at a time, as on a node: the rounds come in 3 blocks, the implementations take turns block by block (in alternating order), each block has its own 2 warm-up rounds, and the floor runs in the same rounds (its own row). With 21 rounds the nearest-rank p99 is the maximum. ` +
      "Times in ms, wall time of the runtime's exec from spawn to exit. Overhead = the implementation's median minus the floor's (the same delegates exec'd directly, in turn, by one process in the node namespace). " +
      "CPU = user + system time of every process of one ADD+DEL (for thick, the daemon's share included). API = requests the API server counted per ADD+DEL over 5 fresh pods of the row's own (apiserver_request_total, watches and the server's own housekeeping excluded).",
    "",
  );
  if (r.startup.length > 0) {
    out.push("Start-up: one process exec'd and waited for, 40 rounds, the cases in turn (ms).", "", "| process | p50 | p90 |", "|---|---|---|");
    for (const st of r.startup) out.push(`| ${st.label} | ${ms(st.p50)} | ${ms(st.p90)} |`);
    out.push("");
  }
  out.push("| mode | delegates | implementation | ADD p50 / p90 / p99 / max | DEL p50 / p90 / p99 / max | overhead ADD / DEL | pods/s | CPU ms (daemon's own) | API | errors |");
  out.push("|---|---|---|---|---|---|---|---|---|---|");
  for (const f of r.floors) {
    out.push(`| floor${f.phase === undefined ? "" : ` (${f.phase} rounds)`} | ${f.kind} × ${String(f.secondaries)} | delegates alone | ${q(f.add)} | ${q(f.del)} | – | ${pps(f)} | ${f.cpuPerPod.toFixed(0)} | – | ${String(f.errors)} |`);
  }
  for (const s of r.sequential) {
    const o = overhead(r, s);
    out.push(
      `| ${MODE_LABEL[s.mode]} | ${s.kind} × ${String(s.secondaries)} | ${s.impl} | ${q(s.add)} | ${q(s.del)} | ${ms(o.add)} / ${ms(o.del)} | ${pps(s)} | ${s.cpuPerPod.toFixed(0)}${s.daemonCpuPerPod === undefined ? "" : ` (${s.daemonCpuPerPod.toFixed(1)})`} | ${s.apiPerPod === undefined ? "–" : s.apiPerPod.toFixed(1)} | ${String(s.errors)} |`,
    );
  }
  const labels = r.meta.implementations.map((i) => i.label);
  const [ours, theirs] = labels;
  if (ours !== undefined && theirs !== undefined) {
    out.push("", `Ratios, ${ours} ÷ ${theirs} (below 1 is better for ${ours}):`, "");
    out.push("| mode | delegates | overhead ADD | overhead DEL | CPU per pod | daemon's own CPU | API per pod |", "|---|---|---|---|---|---|---|");
    for (const s of r.sequential.filter((x) => x.impl === ours)) {
      const t = r.sequential.find((x) => x.impl === theirs && x.mode === s.mode && x.kind === s.kind && x.secondaries === s.secondaries);
      if (t === undefined) continue;
      const a = overhead(r, s);
      const b = overhead(r, t);
      const own = s.daemonCpuPerPod === undefined || t.daemonCpuPerPod === undefined ? "–" : `${ratio(s.daemonCpuPerPod, t.daemonCpuPerPod)} (${ms(s.daemonCpuPerPod)} vs ${ms(t.daemonCpuPerPod)})`;
      out.push(`| ${MODE_LABEL[s.mode]} | ${s.kind} × ${String(s.secondaries)} | ${ratio(a.add, b.add)} (${ms(a.add)} vs ${ms(b.add)}) | ${ratio(a.del, b.del)} (${ms(a.del)} vs ${ms(b.del)}) | ${ratio(s.cpuPerPod, t.cpuPerPod)} (${s.cpuPerPod.toFixed(0)} vs ${t.cpuPerPod.toFixed(0)}) | ${own} | ${ratio(s.apiPerPod ?? Number.NaN, t.apiPerPod ?? Number.NaN)} |`);
    }
  }
  if (r.bursts.length > 0) {
    out.push("", "Bursts: N ADDs started at once, then N DELs at once; wall time of the whole wave, each call's p50 / p90 / p99 / max (ms), pods per second = N ÷ the ADD wave.", "");
    out.push("| mode | delegates | N | implementation | ADD wave | pods/s | ADD each | DEL wave | DEL each | errors |", "|---|---|---|---|---|---|---|---|---|---|");
    for (const b of r.bursts) {
      out.push(`| ${MODE_LABEL[b.mode]} | ${b.kind} × ${String(b.secondaries)} | ${String(b.size)} | ${b.impl} | ${(b.addWallMs / 1000).toFixed(2)} s | ${(b.size / (b.addWallMs / 1000)).toFixed(1)} | ${q(b.add)} | ${(b.delWallMs / 1000).toFixed(2)} s | ${q(b.del)} | ${String(b.errors)} |`);
    }
  }
  if (r.daemons.length > 0) {
    out.push(
      "",
      "Thick daemons, MiB: RSS 2 s after ready (idle) and its peak (VmHWM) by the end of the bursts; of it the anonymous memory (RssAnon: heap and stacks, sampled every 50 ms), the rest being file pages of the executable.",
      "",
      "| implementation | idle RSS | peak RSS | idle anonymous | peak anonymous |",
      "|---|---|---|---|---|",
    );
    for (const d of r.daemons) out.push(`| ${d.impl} | ${d.idleRssMiB.toFixed(0)} | ${d.peakRssMiB.toFixed(0)} | ${d.idleAnonMiB.toFixed(0)} | ${d.peakAnonMiB.toFixed(0)} |`);
  }
  const sizes = r.sequential.map((x) => x.secondaries);
  const apiRows = r.sequential.filter((s) => s.apiKinds !== undefined && (s.secondaries === Math.min(...sizes) || s.secondaries === Math.max(...sizes)));
  if (apiRows.length > 0) {
    out.push("", "Which API requests (per ADD+DEL over 5 fresh pods of each row's own; the smallest and largest scenarios):", "");
    for (const s of apiRows) {
      const kinds = [...(s.apiKinds ?? new Map<string, number>())].map(([k, v]) => `${k} ${v.toFixed(1)}`).join(", ");
      out.push(`- ${s.impl}, ${MODE_LABEL[s.mode]}, ${s.kind} × ${String(s.secondaries)}: ${kinds === "" ? "none" : kinds}`);
    }
  }
  if (r.curve.length > 0) {
    const delays = [...new Set(r.curve.map((c) => c.delayMs))].sort((a, b) => a - b);
    out.push(
      "",
      "API latency curve: the same scenario with the API bridge holding every byte D ms in each direction (a round trip +2D, a new connection's handshake another +2D), overhead over the floor of the same rounds, ADD / DEL medians (ms):",
      "",
      `| mode | implementation | ${delays.map((d) => `D = ${String(d)} ms`).join(" | ")} |`,
      `|---|---|${delays.map(() => "---").join("|")}|`,
    );
    const keys = [...new Map(r.curve.map((c) => [`${c.mode}|${c.impl}`, c])).values()].sort((a, b) => modeIndex(a.mode) - modeIndex(b.mode));
    for (const k of keys) {
      const cells = delays.map((d) => {
        const c = r.curve.find((x) => x.delayMs === d && x.mode === k.mode && x.impl === k.impl);
        return c === undefined ? "–" : `${ms(c.add.p50 - c.floorAdd)} / ${ms(c.del.p50 - c.floorDel)}${c.errors > 0 ? ` (${String(c.errors)} errors)` : ""}`;
      });
      out.push(`| ${MODE_LABEL[k.mode]} | ${k.impl} | ${cells.join(" | ")} |`);
    }
  }
  const failures = [...r.floors, ...r.sequential, ...r.bursts].filter((x) => x.firstError !== undefined);
  if (failures.length > 0) {
    out.push("", "Errors (the first of each row):", "");
    for (const f of failures) out.push(`- ${"impl" in f ? `${f.impl} ${MODE_LABEL[f.mode]}` : "floor"} ${f.kind} × ${String(f.secondaries)}${"size" in f ? ` burst ${String(f.size)}` : ""}: ${f.firstError ?? ""}`);
  }
  return `${out.join("\n")}\n`;
}

function modeIndex(m: Mode): number {
  return ["config-file", "kubernetes-thin", "kubernetes-thick"].indexOf(m);
}

function q(s: { p50: number; p90: number; p99: number; max: number }): string {
  return `${ms(s.p50)} / ${ms(s.p90)} / ${ms(s.p99)} / ${ms(s.max)}`;
}

function pps(s: { add: { p50: number }; del: { p50: number } }): string {
  return (1000 / (s.add.p50 + s.del.p50)).toFixed(1);
}

// ---- chart ----

const COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728"];

interface Group {
  label: string;
  values: number[];
}

/** One panel of grouped bars: a group per scenario, a bar per implementation. */
function panel(title: string, unit: string, series: string[], groups: Group[], x: number, y: number, width: number, height: number): string {
  const parts: string[] = [];
  const top = 36;
  const bottom = 58;
  const left = 56;
  const plotH = height - top - bottom;
  const plotW = width - left - 16;
  const max = Math.max(1, ...groups.flatMap((g) => g.values.filter(Number.isFinite)));
  const step = niceStep(max);
  const yMax = Math.ceil(max / step) * step;
  const sy = (v: number): number => y + top + plotH - (Math.max(0, v) / yMax) * plotH;
  parts.push(`<text x="${String(x + 8)}" y="${String(y + 22)}" font-size="15" font-weight="bold">${esc(title)}</text>`);
  for (let v = 0; v <= yMax + 1e-9; v += step) {
    parts.push(`<line x1="${String(x + left)}" x2="${String(x + left + plotW)}" y1="${sy(v).toFixed(1)}" y2="${sy(v).toFixed(1)}" stroke="#ddd"/>`);
    parts.push(`<text x="${String(x + left - 6)}" y="${(sy(v) + 4).toFixed(1)}" font-size="11" text-anchor="end">${String(Math.round(v * 10) / 10)}</text>`);
  }
  parts.push(`<text x="${String(x + 14)}" y="${String(y + top + plotH / 2)}" font-size="11" transform="rotate(-90 ${String(x + 14)} ${String(y + top + plotH / 2)})" text-anchor="middle">${esc(unit)}</text>`);
  const gw = plotW / Math.max(1, groups.length);
  const bw = Math.min(28, (gw * 0.8) / Math.max(1, series.length));
  groups.forEach((g, gi) => {
    const gx = x + left + gi * gw + (gw - bw * series.length) / 2;
    g.values.forEach((v, si) => {
      if (!Number.isFinite(v)) return;
      const bx = gx + si * bw;
      parts.push(`<rect x="${bx.toFixed(1)}" y="${sy(v).toFixed(1)}" width="${(bw - 2).toFixed(1)}" height="${(y + top + plotH - sy(v)).toFixed(1)}" fill="${COLOURS[si % COLOURS.length] ?? "#000"}"/>`);
      parts.push(`<text x="${(bx + bw / 2 - 1).toFixed(1)}" y="${(sy(v) - 3).toFixed(1)}" font-size="9" text-anchor="middle">${v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)}</text>`);
    });
    const lines = g.label.split("\n");
    lines.forEach((l, li) => parts.push(`<text x="${(x + left + gi * gw + gw / 2).toFixed(1)}" y="${String(y + top + plotH + 16 + li * 13)}" font-size="11" text-anchor="middle">${esc(l)}</text>`));
  });
  series.forEach((s, si) => {
    const lx = x + width - 16 - (series.length - si) * 150;
    parts.push(`<rect x="${String(lx)}" y="${String(y + 10)}" width="12" height="12" fill="${COLOURS[si % COLOURS.length] ?? "#000"}"/><text x="${String(lx + 17)}" y="${String(y + 20)}" font-size="12">${esc(s)}</text>`);
  });
  return parts.join("\n");
}

interface Line {
  label: string;
  colour: string;
  dash: string;
  points: { x: number; y: number }[];
}

/** One panel of lines over a numeric x axis (the API delay). */
function linePanel(title: string, xUnit: string, unit: string, lines: Line[], x: number, y: number, width: number, height: number): string {
  const parts: string[] = [];
  const top = 36;
  const bottom = 44;
  const left = 56;
  const right = 230;
  const plotH = height - top - bottom;
  const plotW = width - left - right;
  const xs = [...new Set(lines.flatMap((l) => l.points.map((p) => p.x)))].sort((a, b) => a - b);
  const xMax = Math.max(1, ...xs);
  const max = Math.max(1, ...lines.flatMap((l) => l.points.map((p) => p.y)).filter(Number.isFinite));
  const step = niceStep(max);
  const yMax = Math.ceil(max / step) * step;
  const sx = (v: number): number => x + left + (v / xMax) * plotW;
  const sy = (v: number): number => y + top + plotH - (Math.max(0, v) / yMax) * plotH;
  parts.push(`<text x="${String(x + 8)}" y="${String(y + 22)}" font-size="15" font-weight="bold">${esc(title)}</text>`);
  for (let v = 0; v <= yMax + 1e-9; v += step) {
    parts.push(`<line x1="${String(x + left)}" x2="${String(x + left + plotW)}" y1="${sy(v).toFixed(1)}" y2="${sy(v).toFixed(1)}" stroke="#ddd"/>`);
    parts.push(`<text x="${String(x + left - 6)}" y="${(sy(v) + 4).toFixed(1)}" font-size="11" text-anchor="end">${String(Math.round(v * 10) / 10)}</text>`);
  }
  for (const v of xs) parts.push(`<text x="${sx(v).toFixed(1)}" y="${String(y + top + plotH + 16)}" font-size="11" text-anchor="middle">${String(v)}</text>`);
  parts.push(`<text x="${String(x + left + plotW / 2)}" y="${String(y + top + plotH + 34)}" font-size="11" text-anchor="middle">${esc(xUnit)}</text>`);
  parts.push(`<text x="${String(x + 14)}" y="${String(y + top + plotH / 2)}" font-size="11" transform="rotate(-90 ${String(x + 14)} ${String(y + top + plotH / 2)})" text-anchor="middle">${esc(unit)}</text>`);
  lines.forEach((l, i) => {
    const pts = l.points.filter((p) => Number.isFinite(p.y)).sort((a, b) => a.x - b.x);
    if (pts.length > 0) parts.push(`<polyline fill="none" stroke="${l.colour}" stroke-width="2" stroke-dasharray="${l.dash}" points="${pts.map((p) => `${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`).join(" ")}"/>`);
    for (const p of pts) parts.push(`<circle cx="${sx(p.x).toFixed(1)}" cy="${sy(p.y).toFixed(1)}" r="3" fill="${l.colour}"/>`);
    const ly = y + top + 8 + i * 18;
    parts.push(`<line x1="${String(x + width - right + 12)}" x2="${String(x + width - right + 40)}" y1="${String(ly)}" y2="${String(ly)}" stroke="${l.colour}" stroke-width="2" stroke-dasharray="${l.dash}"/><text x="${String(x + width - right + 46)}" y="${String(ly + 4)}" font-size="11">${esc(l.label)}</text>`);
  });
  return parts.join("\n");
}

function niceStep(max: number): number {
  const raw = max / 5;
  const mag = 10 ** Math.floor(Math.log10(raw));
  return ([1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw);
}

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

export function chartSvg(r: RunResults): string {
  const impls = r.meta.implementations.map((i) => i.label);
  const scenarios = [...new Map(r.sequential.map((s) => [`${s.mode}|${s.kind}|${String(s.secondaries)}`, s])).values()];
  const group = (pick: (s: SequentialResult) => number): Group[] =>
    scenarios.map((s) => ({
      label: `${MODE_LABEL[s.mode].replace(" ", "\n")}\n${s.kind} × ${String(s.secondaries)}`,
      values: impls.map((impl) => {
        const row = r.sequential.find((x) => x.impl === impl && x.mode === s.mode && x.kind === s.kind && x.secondaries === s.secondaries);
        return row === undefined ? Number.NaN : pick(row);
      }),
    }));
  const burstKeys = [...new Map(r.bursts.map((b) => [`${b.mode}|${String(b.size)}`, b])).values()];
  const bursts: Group[] = burstKeys.map((b) => ({
    label: `${MODE_LABEL[b.mode].replace(" ", "\n")}\n${String(b.size)} pods`,
    values: impls.map((impl) => {
      const row = r.bursts.find((x) => x.impl === impl && x.mode === b.mode && x.size === b.size);
      return row === undefined ? Number.NaN : row.addWallMs / 1000;
    }),
  }));
  const width = Math.max(900, scenarios.length * 70 + 100);
  const h = 300;
  const panels = [
    panel("ADD overhead over the delegate floor (median)", "ms", impls, group((s) => overhead(r, s).add), 0, 40, width, h),
    panel("DEL overhead over the delegate floor (median)", "ms", impls, group((s) => overhead(r, s).del), 0, 40 + h, width, h),
  ];
  if (bursts.length > 0) panels.push(panel("Burst: wall time of N concurrent ADDs", "s", impls, bursts, 0, 40 + panels.length * h, Math.max(900, bursts.length * 80 + 100), h));
  if (r.curve.length > 0) {
    const dashes: Record<Mode, string> = { "config-file": "2 3", "kubernetes-thin": "8 4", "kubernetes-thick": "" };
    const keys = [...new Map(r.curve.map((c) => [`${c.mode}|${c.impl}`, c])).values()].sort((a, b) => modeIndex(a.mode) - modeIndex(b.mode));
    const lines = (pick: (c: CurvePoint) => number): Line[] =>
      keys.map((k) => ({
        label: `${k.impl}, ${MODE_LABEL[k.mode]}`,
        colour: COLOURS[Math.max(0, impls.indexOf(k.impl)) % COLOURS.length] ?? "#000",
        dash: dashes[k.mode],
        points: r.curve.filter((c) => c.mode === k.mode && c.impl === k.impl).map((c) => ({ x: c.delayMs, y: pick(c) })),
      }));
    panels.push(linePanel("ADD overhead against API latency", "added delay per direction (ms)", "ms", lines((c) => c.add.p50 - c.floorAdd), 0, 40 + panels.length * h, width, h));
    panels.push(linePanel("DEL overhead against API latency", "added delay per direction (ms)", "ms", lines((c) => c.del.p50 - c.floorDel), 0, 40 + panels.length * h, width, h));
  }
  const height = 40 + panels.length * h + 10;
  const title = `Multus implementations side by side — ${r.meta.date} — ${r.meta.machine.split(", ").slice(0, 1).join("")}`;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${String(width)}" height="${String(height)}" viewBox="0 0 ${String(width)} ${String(height)}" font-family="DejaVu Sans, sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="8" y="24" font-size="16">${esc(title)}</text>`,
    ...panels,
    "</svg>",
  ].join("\n");
}

/** SVG → PNG with resvg (a devDependency); the fonts are the machine's (fonts-dejavu-core). */
export async function writePng(svg: string, path: string): Promise<void> {
  const { Resvg } = await import("@resvg/resvg-js");
  const png = new Resvg(svg, { background: "white", font: { loadSystemFonts: true, defaultFontFamily: "DejaVu Sans" }, fitTo: { mode: "zoom", value: 1.5 } }).render().asPng();
  await writeFile(path, png);
}
