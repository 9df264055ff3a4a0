// NetworkAttachmentDefinition objects (NPWG v1.3 §3) and the delegate config each one stands for.
//
// Exported API:
//   RESOURCE_NAME_ANNOTATION = "k8s.v1.cni.cncf.io/resourceName"
//   type NetworkAttachmentDefinition = { metadata: { name; namespace; uid?; annotations? }; spec?: { config? } }
//   decodeNad(json: unknown): NetworkAttachmentDefinition                 validate an API object (NPWG-01)
//   nadKey(namespace, name): string                                       "namespace/name"
//   resourceNameOf(nad): string | undefined                               the resourceName annotation
//   delegateConfigFromNad(nad, confDir, options?): Promise<DelegateConfig>  NPWG-02/03
//   findDelegateConfigByName(confDir, name, options?): Promise<DelegateConfig | undefined>
//                                           the same file lookup, for clusterNetwork/defaultNetworks names
//   delegateConfigFromFile(path, options?): Promise<DelegateConfig>         one file (a clusterNetwork path)
//     options = { defaultCniVersion?: string; policy?: DelegatePolicy; logger?: Pick<Logger, "warn">; signal?: AbortSignal }
//
// Errors for a NAD are MULTUS_ERR_NAD_CONFIG naming `namespace/name` (and the file, if one is involved)
// and what to fix, or MULTUS_ERR_DELEGATE_REFUSED when the policy refuses it; the two file functions
// serve the Multus config's own references and raise MULTUS_ERR_CONFIG naming the file.
//
// Decisions:
//   - Lookup order (NPWG-02, "must … in the listed order"): a non-blank `spec.config`; else the first
//     `.conflist` in confDir (by file name) whose CNI `name` equals the NAD's name; else the first
//     `.conf`/`.json` (by file name) with that name; else the request fails. nad-client instead scans
//     all three extensions together in file-name order, so a `.conf` sorting first would win there.
//   - A file that cannot be read or parsed is skipped with a logged warning (upstream aborts the whole
//     lookup); the final "not found" error lists the skipped files, since one of them may be the one
//     meant. A file whose name matches but whose content is not a valid config is an error naming it.
//   - The config itself (spec.config, or the file) becomes a DelegateConfig through the one model and
//     gate, src/cni/delegate-config.ts: a conf is a one-plugin list; NPWG-03's missing name is the NAD's;
//     a missing cniVersion is `options.defaultCniVersion` (callers pass the Multus config's, as every
//     delegate gets it) else "0.1.0"; `type` with `plugins` is ambiguous; the conflist runner's own
//     parser checks it, so a config that would fail at ADD fails while planning, with the NAD named;
//     and `options.policy` (the Multus config's delegatePolicy) decides whether this namespace's NAD
//     may run it (a file found for a NAD is the administrator's text, run at the tenant's choice).
//   - decodeNad checks the name is a DNS-1123 label (NPWG-04): the API accepts any DNS-1123 subdomain
//     for custom resources, but a name with dots can never be selected by the networks annotation.
import type { Dirent } from "node:fs";
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { admitDelegateConfig, defaultDelegatePolicy, type DelegateConfig, type DelegatePolicy, type DelegateSource } from "../cni/delegate-config.ts";
import type { Logger } from "../util/logger.ts";
import { MultusError } from "../util/multus-error.ts";
import { isDns1123Label } from "./address-syntax.ts";
import { parseJsonText } from "./json-text.ts";
import { isRecord } from "../cni/is-record.ts";
import { RESOURCE_NAME_ANNOTATION } from "../k8s/annotations.ts";

const API_VERSION = "k8s.cni.cncf.io/v1";
const KIND = "NetworkAttachmentDefinition";

export interface NetworkAttachmentDefinition {
  metadata: {
    name: string;
    namespace: string;
    uid?: string;
    annotations?: Record<string, string>;
  };
  spec?: { config?: string };
}

export interface DelegateConfigOptions {
  /** cniVersion for a config that names none (callers pass the Multus config's); default "0.1.0". */
  defaultCniVersion?: string;
  /** The Multus config's delegatePolicy (src/cni/delegate-config.ts); default: the default policy for kube-system. */
  policy?: DelegatePolicy;
  /** Receives a warning for every config file that is skipped because it cannot be read or parsed. */
  logger?: Pick<Logger, "warn">;
  /** Cancels the confDir scan (file reads stop at the next chunk). */
  signal?: AbortSignal;
}

export function nadKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

/** The device-plugin resource the NAD asks for (`k8s.v1.cni.cncf.io/resourceName`), if any. */
export function resourceNameOf(nad: NetworkAttachmentDefinition): string | undefined {
  const v = nad.metadata.annotations?.[RESOURCE_NAME_ANNOTATION]?.trim();
  return v === undefined || v === "" ? undefined : v;
}


function q(s: string): string {
  return JSON.stringify(s);
}

/**
 * Validate an API object as a NetworkAttachmentDefinition (NPWG-01: group k8s.cni.cncf.io, version v1,
 * namespaced, `spec.config` an optional string). `apiVersion`/`kind` are checked when present; other
 * fields (status, managedFields, …) are ignored and not kept.
 */
export function decodeNad(json: unknown): NetworkAttachmentDefinition {
  const fail = (what: string, who = "NetworkAttachmentDefinition"): MultusError =>
    new MultusError("MULTUS_ERR_NAD_CONFIG", `${who}: ${what}`);
  if (!isRecord(json)) throw fail("is not a JSON object");
  if (json.apiVersion !== undefined && json.apiVersion !== API_VERSION) {
    throw fail(`apiVersion is ${JSON.stringify(json.apiVersion)}, expected ${q(API_VERSION)}`);
  }
  if (json.kind !== undefined && json.kind !== KIND) throw fail(`kind is ${JSON.stringify(json.kind)}, expected ${q(KIND)}`);
  const md = json.metadata;
  if (!isRecord(md)) throw fail("has no metadata object");
  const { name, namespace, uid, annotations } = md;
  if (typeof name !== "string" || name === "") throw fail("metadata.name is missing or not a string");
  if (typeof namespace !== "string" || namespace === "") throw fail(`metadata.namespace is missing or not a string (NetworkAttachmentDefinitions are namespaced)`, `NetworkAttachmentDefinition ${q(name)}`);
  const who = `NetworkAttachmentDefinition ${nadKey(namespace, name)}`;
  if (!isDns1123Label(name)) {
    throw fail("the name is not a DNS-1123 label (lower-case letters, digits and \"-\", at most 63 characters), so no pod can select it; rename it", who);
  }
  if (!isDns1123Label(namespace)) throw fail("metadata.namespace is not a DNS-1123 label", who);
  const out: NetworkAttachmentDefinition = { metadata: { name, namespace } };
  if (uid !== undefined && uid !== null) {
    if (typeof uid !== "string") throw fail("metadata.uid is not a string", who);
    out.metadata.uid = uid;
  }
  if (annotations !== undefined && annotations !== null) {
    if (!isRecord(annotations) || !Object.values(annotations).every((v) => typeof v === "string")) {
      throw fail("metadata.annotations must map names to strings", who);
    }
    out.metadata.annotations = Object.fromEntries(Object.entries(annotations)) as Record<string, string>;
  }
  const spec = json.spec;
  if (spec !== undefined && spec !== null) {
    if (!isRecord(spec)) throw fail("spec is not an object", who);
    out.spec = {};
    if (spec.config !== undefined && spec.config !== null) {
      if (typeof spec.config !== "string") throw fail("spec.config must be a string holding the CNI JSON config", who);
      out.spec.config = spec.config;
    }
  }
  return out;
}

/**
 * The delegate config a NAD stands for, as a config list (NPWG-02/03; see the header for the rules).
 * File reads use `options.signal`; the scan reads each file at most once.
 */
export async function delegateConfigFromNad(
  nad: NetworkAttachmentDefinition,
  confDir: string,
  options: DelegateConfigOptions = {},
): Promise<DelegateConfig> {
  const who = `NetworkAttachmentDefinition ${nadKey(nad.metadata.namespace, nad.metadata.name)}`;
  const config = nad.spec?.config;
  if (config !== undefined && config.trim() !== "") {
    const parsed = parseJsonText(config);
    if (!parsed.ok) throw new MultusError("MULTUS_ERR_NAD_CONFIG", `${who}: spec.config is not valid JSON (${parsed.error}); fix spec.config`);
    return admit(parsed.value, { kind: "nad", namespace: nad.metadata.namespace, name: nad.metadata.name }, nad.metadata.name, options);
  }
  return fromConfDir(nad, who, confDir, options);
}

function admit(raw: unknown, source: DelegateSource, fallbackName: string | undefined, options: DelegateConfigOptions): DelegateConfig {
  return admitDelegateConfig(raw, {
    source,
    policy: options.policy ?? defaultDelegatePolicy("kube-system"),
    ...(options.defaultCniVersion === undefined ? {} : { defaultCniVersion: options.defaultCniVersion }),
    ...(fallbackName === undefined ? {} : { fallbackName }),
  });
}

/**
 * The first config in `confDir` whose CNI `name` is `name`: `.conflist` files first, then `.conf` and
 * `.json` (each group by file name; NPWG-02's order, also used for clusterNetwork/defaultNetworks names).
 * Undefined when none matches or confDir does not exist; unparsable files are skipped with a warning.
 * A matching file that is not a valid config → MultusError("MULTUS_ERR_CONFIG") naming the file.
 */
export async function findDelegateConfigByName(confDir: string, name: string, options: DelegateConfigOptions = {}): Promise<DelegateConfig | undefined> {
  const who = `network ${q(name)}`;
  const scan = await scanConfDir(confDir, name, options, (what, cause) => new MultusError("MULTUS_ERR_CONFIG", `${who}: ${what}`, cause === undefined ? undefined : { cause }), (file) => ({
    kind: "admin",
    where: `network ${q(name)}: config file ${file}`,
  }));
  return scan.list;
}

/**
 * One config file (a clusterNetwork/defaultNetworks path) as a config list. Conf or conflist is decided
 * by the content (`type` or `plugins`), as upstream's delegate loader does; the file must name its
 * network. Errors are MultusError("MULTUS_ERR_CONFIG") naming the file.
 */
export async function delegateConfigFromFile(path: string, options: DelegateConfigOptions = {}): Promise<DelegateConfig> {
  const fail = (what: string): MultusError => new MultusError("MULTUS_ERR_CONFIG", `config file ${path} ${what}`);
  let text: string;
  try {
    text = await readFile(path, { encoding: "utf8", ...(options.signal === undefined ? {} : { signal: options.signal }) });
  } catch (err) {
    if ((err as Error).name === "AbortError") throw err;
    throw fail(`cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); fix the path or its permissions`);
  }
  const parsed = parseJsonText(text);
  if (!parsed.ok) throw fail(`is not valid JSON (${parsed.error}); fix the file`);
  return admit(parsed.value, { kind: "admin", where: `config file ${path}` }, undefined, options);
}

interface SkippedFile {
  file: string;
  reason: string;
}

interface ConfDirScan {
  list?: DelegateConfig;
  /** confDir is missing (ENOENT/ENOTDIR). */
  missing: boolean;
  skipped: SkippedFile[];
}

/** NPWG-02's file lookup; `error` builds the errors for an unreadable confDir or an invalid match. */
async function scanConfDir(
  confDir: string,
  name: string,
  options: DelegateConfigOptions,
  error: (what: string, cause?: unknown) => MultusError,
  sourceOf: (file: string) => DelegateSource,
): Promise<ConfDirScan> {
  let entries: Dirent[];
  try {
    entries = await readdir(confDir, { withFileTypes: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return { missing: true, skipped: [] };
    throw error(`confDir ${confDir} cannot be read (${code ?? String(err)}); fix its permissions`, err);
  }
  const byExt = (exts: readonly string[]): string[] =>
    entries
      .filter((e) => (e.isFile() || e.isSymbolicLink()) && exts.some((x) => e.name.endsWith(x)))
      .map((e) => e.name)
      .sort();
  const skipped: SkippedFile[] = [];
  // NPWG-02: ".conflist" files before ".conf" files.
  for (const [exts, kind] of [[[".conflist"], "list"], [[".conf", ".json"], "conf"]] as const) {
    for (const base of byExt(exts)) {
      const file = join(confDir, base);
      const obj = await readConfigFile(file, options, skipped);
      if (obj === undefined || obj.name !== name) continue;
      const fail = (what: string): MultusError => error(`config file ${file} ${what}`);
      if (kind === "list" && !("plugins" in obj)) throw fail('is a .conflist without "plugins"; fix the file');
      if (kind === "conf" && !("type" in obj)) throw fail('has no "type" (is it a config list? then name it .conflist)');
      return { list: admit(obj, sourceOf(file), name, options), missing: false, skipped };
    }
  }
  return { missing: false, skipped };
}

async function fromConfDir(
  nad: NetworkAttachmentDefinition,
  who: string,
  confDir: string,
  options: DelegateConfigOptions,
): Promise<DelegateConfig> {
  const name = nad.metadata.name;
  const scan = await scanConfDir(
    confDir,
    name,
    options,
    (what, cause) =>
      new MultusError("MULTUS_ERR_NAD_CONFIG", `${who}: ${what.startsWith("confDir") ? `has no spec.config and ${what} or give the NAD a spec.config` : what}`, cause === undefined ? undefined : { cause }),
    (file) => ({ kind: "nad", namespace: nad.metadata.namespace, name, file }),
  );
  if (scan.list !== undefined) return scan.list;
  if (scan.missing) {
    throw new MultusError("MULTUS_ERR_NAD_CONFIG", `${who}: has no spec.config and confDir ${confDir} does not exist; give the NAD a spec.config or put a CNI config named ${q(name)} in ${confDir}`);
  }
  const skippedNote = scan.skipped.length === 0 ? "" : ` (skipped unreadable files: ${scan.skipped.map((s) => `${s.file}: ${s.reason}`).join("; ")})`;
  throw new MultusError(
    "MULTUS_ERR_NAD_CONFIG",
    `${who}: has no spec.config and no .conflist/.conf/.json file in ${confDir} has "name": ${q(name)}${skippedNote}; give the NAD a spec.config or add such a file`,
  );
}

async function readConfigFile(file: string, options: DelegateConfigOptions, skipped: SkippedFile[]): Promise<Record<string, unknown> | undefined> {
  const skip = (reason: string): void => {
    skipped.push({ file, reason });
    options.logger?.warn({ file, reason }, "skipping unusable CNI config file");
  };
  let text: string;
  try {
    // A symlink may point at a directory; only regular files are configs (libcni ConfFiles).
    if (!(await stat(file)).isFile()) return undefined;
    text = await readFile(file, { encoding: "utf8", ...(options.signal === undefined ? {} : { signal: options.signal }) });
  } catch (err) {
    if ((err as Error).name === "AbortError") throw err;
    skip(`cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    return undefined;
  }
  const parsed = parseJsonText(text);
  if (!parsed.ok) {
    skip(`invalid JSON (${parsed.error})`);
    return undefined;
  }
  if (!isRecord(parsed.value)) {
    skip("not a JSON object");
    return undefined;
  }
  return parsed.value;
}
