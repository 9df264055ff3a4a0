// The Multus config multusctl checks against: the one this node's Multus runs with, found as the
// product finds it (docs/multusctl.md, "Which Multus config"). Here, in cmd/, because it needs the
// daemon's and the installer's readers, which multusctl's verbs (src/cli, below them) may not import.
//
//   --config FILE        that file: a Multus config (type multus or multus-shim, or a list with one),
//                        or a daemon config (no `type`, no `plugins`: deploy/thick's daemon-config.json,
//                        which the webhook mounts): its thin keys over the defaults, read by the
//                        daemon's own reader
//   thick                /etc/cni/net.d/multus.d/daemon-config.json exists: the Multus config file in
//                        its cniConfigDir (the 00-multus file the daemon wrote) with the daemon
//                        config's thin keys laid over it, as the daemon does for every request
//   thin                 the first Multus config (by file name) in /etc/cni/net.d
//   none of them         the defaults, and a warning saying so
import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import type { NodeMultusConfig } from "../cli/cli-context.ts";
import { isRecord } from "../cni/is-record.ts";
import { DEFAULT_DAEMON_CONFIG, loadDaemonConfig } from "../daemon/daemon-config.ts";
import { isMultusConfig } from "../install/config-generator.ts";
import { parseMultusConfig } from "../multus/multus-config.ts";
import { MultusError } from "../util/multus-error.ts";

const CNI_CONF_DIR = "/etc/cni/net.d";
/** What a node without Multus's files runs with: every key at its default. */
const DEFAULT_CONFIG = { cniVersion: "1.0.0", name: "multus-cni-network", type: "multus", clusterNetwork: "(unknown: no Multus config found)" };

export async function loadNodeMultusConfig(explicit: string | undefined, paths = { daemonConfig: DEFAULT_DAEMON_CONFIG, cniConfDir: CNI_CONF_DIR }): Promise<NodeMultusConfig> {
  if (explicit !== undefined) {
    const json = await readJson(explicit);
    if (isRecord(json) && json["type"] === undefined && json["plugins"] === undefined) {
      return { config: parseMultusConfig({ ...DEFAULT_CONFIG, ...loadDaemonConfig(explicit).overrides }, explicit), source: explicit, warnings: [] };
    }
    return { config: parseMultusConfig(await pluginOf(explicit), explicit), source: explicit, warnings: [] };
  }
  if (existsSync(paths.daemonConfig)) {
    const daemon = loadDaemonConfig(paths.daemonConfig);
    const file = await firstMultusConfig(daemon.cniConfigDir);
    const source = file === undefined ? paths.daemonConfig : `${file} + ${paths.daemonConfig}`;
    const base = file === undefined ? DEFAULT_CONFIG : await pluginOf(file);
    const warnings = file === undefined ? [`no Multus config in ${daemon.cniConfigDir} (the daemon has not written it yet?): using the defaults with ${paths.daemonConfig}'s keys`] : [];
    return { config: parseMultusConfig({ ...base, ...daemon.overrides }, source), source, warnings };
  }
  const file = await firstMultusConfig(paths.cniConfDir);
  if (file !== undefined) return { config: parseMultusConfig(await pluginOf(file), file), source: file, warnings: [] };
  return {
    config: parseMultusConfig(DEFAULT_CONFIG, "defaults"),
    source: "defaults",
    warnings: [`no Multus config on this node (neither ${paths.daemonConfig} nor a Multus config in ${paths.cniConfDir}): using the defaults; give one with --config`],
  };
}

/** The first `.conf`/`.conflist`/`.json` in `dir` (by name) that is a Multus config, as the runtime would pick it. */
async function firstMultusConfig(dir: string): Promise<string | undefined> {
  const names = (await readdir(dir).catch(() => [])).filter((n) => /\.(conflist|conf|json)$/.test(n)).sort();
  for (const name of names) {
    const path = join(dir, name);
    const json = await readJson(path).catch(() => undefined);
    if (isRecord(json) && isMultusConfig(json)) return path;
  }
  return undefined;
}

/** A Multus config file's Multus plugin: a list's plugin carries the list's name and cniVersion (the daemon's reading, too). */
async function pluginOf(path: string): Promise<Record<string, unknown>> {
  const json = await readJson(path);
  if (!isRecord(json)) throw new MultusError("MULTUS_ERR_CONFIG", `${path} is not a JSON object`);
  const plugins = json["plugins"];
  if (!Array.isArray(plugins)) return json;
  const plugin: unknown = plugins.find((p) => isRecord(p) && isMultusConfig(p)) ?? plugins[0];
  if (!isRecord(plugin)) throw new MultusError("MULTUS_ERR_CONFIG", `${path} is a config list without a plugin`);
  return { ...plugin, name: json["name"], cniVersion: json["cniVersion"] };
}

async function readJson(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, { encoding: "utf8", signal: AbortSignal.timeout(5_000) });
  } catch (err) {
    throw new MultusError("MULTUS_ERR_CONFIG", `cannot read the Multus config ${path}: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new MultusError("MULTUS_ERR_CONFIG", `the Multus config ${path} is not JSON: ${(err as Error).message}`);
  }
}
