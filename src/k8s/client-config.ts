// Where the API server is and how to authenticate to it: a kubeconfig file (YAML or JSON) or the
// in-cluster ServiceAccount. Every file is read here, once, so a bad path fails at start-up with a
// message naming the kubeconfig and the key; only the bearer token file is read again later, by the
// client, because bound ServiceAccount tokens rotate (multus#852).
//
// Exported API:
//   interface ClientConfig                      — server URL, TLS material, credentials
//   loadKubeconfig(path, {context?}): Promise<ClientConfig>
//       current-context (or `context`) → its cluster and user. Supports certificate-authority(-data),
//       insecure-skip-tls-verify, tls-server-name, token, tokenFile, client-certificate(-data),
//       client-key(-data); `-data` wins over the file, tokenFile wins over token (client-go's rules).
//       Relative file paths are resolved against the kubeconfig's directory. exec / auth-provider /
//       basic auth are rejected with a clear message (the CNI hot path cannot run credential plugins).
//   loadKubeconfigs(paths, {context?}): Promise<ClientConfig>
//       kubectl's $KUBECONFIG list: the files merged as client-go merges them — for clusters, users
//       and contexts the first file naming an entry wins, current-context is the first one set, a
//       file of the list that does not exist is skipped — with each entry's relative paths resolved
//       against its own file's directory. One path: loadKubeconfig.
//   inClusterConfig(env = process.env, saDir = SERVICE_ACCOUNT_DIR): Promise<ClientConfig>
//       KUBERNETES_SERVICE_HOST/PORT (IPv6 hosts bracketed), <saDir>/token (re-read on rotation),
//       <saDir>/ca.crt, <saDir>/namespace.
//   resolveClientConfig(kubeconfig | undefined, env): Promise<ClientConfig | undefined>
//       upstream Multus' order: the kubeconfig if given, else in-cluster if its env is set, else none.
//   clientConfigSource(kubeconfig | undefined, env): "kubeconfig" | "in-cluster" | undefined
//       which of those it would use, decided without reading a file
//   SERVICE_ACCOUNT_DIR
//
// Errors are MultusError MULTUS_ERR_CONFIG (a config the operator must fix, CNI code 7).
import { readFile } from "node:fs/promises";
import { isIPv6 } from "node:net";
import { dirname, isAbsolute, resolve } from "node:path";
import { MultusError } from "../util/multus-error.ts";

export interface ClientConfig {
  /** The API server's base URL; a path prefix (e.g. behind a proxy) is kept. */
  server: URL;
  /** PEM CA bundle to verify the server with; absent = the system's roots. */
  ca?: Buffer;
  insecureSkipTlsVerify: boolean;
  /** SNI / verification name when it differs from the server's host (kubeconfig tls-server-name). */
  tlsServerName?: string;
  /** A bearer token; used when `tokenFile` is absent or cannot be read. */
  token?: string;
  /** A file holding the bearer token; the client re-reads it when it changes and after a 401. */
  tokenFile?: string;
  /** PEM client certificate and key (mutual TLS). */
  cert?: Buffer;
  key?: Buffer;
  userAgent?: string;
  /** The context's namespace (kubeconfig) or the pod's (in-cluster), when known. */
  namespace?: string;
  /**
   * The kubeconfig this came from and the context used; lets the client reload an inline token
   * after a 401 (multus-install rewrites the file when it refreshes the token) and lets errors
   * name the file.
   */
  kubeconfig?: { path: string; context: string };
}

export const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

export interface LoadKubeconfigOptions {
  /** Use this context instead of current-context. */
  context?: string;
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function configError(file: string, msg: string, cause?: unknown): MultusError {
  return new MultusError("MULTUS_ERR_CONFIG", `kubeconfig ${file}: ${msg}`, cause === undefined ? undefined : { cause });
}

/** Reads and parses a kubeconfig file; see the header for what is supported. */
export async function loadKubeconfig(path: string, options: LoadKubeconfigOptions = {}): Promise<ClientConfig> {
  const file = resolve(path);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    throw configError(file, `cannot read it: ${errorText(err)}`, err);
  }
  const doc = await parseDocument(file, text);
  return buildConfig(file, doc, options.context);
}

/** Keys of a cluster or user entry that hold a path, resolved against the entry's own file. */
const PATH_KEYS: Readonly<Record<string, readonly string[]>> = {
  clusters: ["certificate-authority"],
  users: ["client-certificate", "client-key", "tokenFile"],
};

export async function loadKubeconfigs(paths: readonly string[], options: LoadKubeconfigOptions = {}): Promise<ClientConfig> {
  const first = paths[0];
  if (paths.length === 1 && first !== undefined) return loadKubeconfig(first, options);
  const files: string[] = [];
  const merged: Obj = { clusters: [], users: [], contexts: [] };
  for (const path of paths) {
    const file = resolve(path);
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (err) {
      // kubectl skips the files of the list that do not exist, and fails on any other read error.
      if ((err as NodeJS.ErrnoException).code === "ENOENT") continue;
      throw configError(file, `cannot read it: ${errorText(err)}`, err);
    }
    files.push(file);
    const doc = await parseDocument(file, text);
    if (doc === null || doc === undefined) continue;
    if (!isObj(doc)) throw configError(file, "not a kubeconfig (expected a map with clusters, users, contexts)");
    if (merged["current-context"] === undefined) {
      const current = optString(file, doc, "current-context", "");
      if (current !== undefined) merged["current-context"] = current;
    }
    for (const list of ["clusters", "users", "contexts"] as const) {
      const entries: unknown = doc[list];
      if (entries === undefined || entries === null) continue;
      if (!Array.isArray(entries)) throw configError(file, `${list} is not a list`);
      const into = merged[list] as Obj[];
      for (const entry of entries) {
        if (!isObj(entry) || typeof entry["name"] !== "string" || into.some((e) => e["name"] === entry["name"])) continue;
        into.push(withAbsolutePaths(file, list, entry));
      }
    }
  }
  if (files.length === 0) throw configError(paths.join(":"), "none of the files of the list exists");
  return buildConfig(files.join(":"), merged, options.context);
}

/** An entry of `file` whose path keys are made absolute against `file`'s directory (its origin, as kubectl keeps it). */
function withAbsolutePaths(file: string, list: string, entry: Obj): Obj {
  const keys = PATH_KEYS[list];
  const innerKey = list === "clusters" ? "cluster" : list === "users" ? "user" : undefined;
  if (keys === undefined || innerKey === undefined) return entry;
  const inner = entry[innerKey];
  if (!isObj(inner)) return entry;
  const copy: Obj = { ...inner };
  for (const k of keys) if (typeof copy[k] === "string" && copy[k] !== "") copy[k] = resolveAgainst(file, copy[k]);
  return { ...entry, [innerKey]: copy };
}

/**
 * JSON first: it is valid YAML, parses without loading a YAML library (≈50 ms of start-up saved
 * on the CNI hot path), and it is what our installer writes. YAML only when the file is not JSON.
 */
async function parseDocument(file: string, text: string): Promise<unknown> {
  if (/^\s*\{/.test(text)) {
    try {
      return JSON.parse(text) as unknown;
    } catch (err) {
      throw configError(file, `invalid JSON: ${errorText(err)}`, err);
    }
  }
  const yaml = await import("yaml");
  try {
    // YAML 1.1 like the Go loader (sigs.k8s.io/yaml over go-yaml v2), so `yes`/`no` are booleans there too.
    return yaml.parse(text, { version: "1.1" }) as unknown;
  } catch (err) {
    throw configError(file, `invalid YAML: ${oneLine(errorText(err))}`, err);
  }
}

/** The entry called `name` in a named list (`clusters`, `users`, `contexts`), and its inner object. */
function findNamed(file: string, doc: Obj, list: string, inner: string, name: string, missing: string): Obj {
  const entries: unknown = doc[list];
  if (entries !== undefined && entries !== null && !Array.isArray(entries)) throw configError(file, `${list} is not a list`);
  const list_: unknown[] = Array.isArray(entries) ? entries : [];
  const entry = list_.find((e) => isObj(e) && e["name"] === name);
  if (!isObj(entry)) throw configError(file, missing);
  const value = entry[inner];
  if (value === undefined || value === null) return {};
  if (!isObj(value)) throw configError(file, `${list}["${name}"].${inner} is not a map`);
  return value;
}

function optString(file: string, obj: Obj, key: string, where: string): string | undefined {
  const v = obj[key];
  if (v === undefined || v === null || v === "") return undefined;
  if (typeof v !== "string") throw configError(file, `${where}.${key} must be a string`);
  return v;
}

function optBool(file: string, obj: Obj, key: string, where: string): boolean {
  const v = obj[key];
  if (v === undefined || v === null) return false;
  if (typeof v !== "boolean") throw configError(file, `${where}.${key} must be true or false`);
  return v;
}

/** `-data` (base64 of PEM) wins over the file path, as in client-go. */
async function readMaterial(file: string, obj: Obj, key: string, where: string): Promise<Buffer | undefined> {
  const data = optString(file, obj, `${key}-data`, where);
  if (data !== undefined) {
    const compact = data.replace(/\s+/g, "");
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(compact) || compact.length % 4 !== 0) {
      throw configError(file, `${where}.${key}-data is not valid base64`);
    }
    const bytes = Buffer.from(compact, "base64");
    if (bytes.length === 0) throw configError(file, `${where}.${key}-data is empty`);
    return bytes;
  }
  const path = optString(file, obj, key, where);
  if (path === undefined) return undefined;
  const abs = resolveAgainst(file, path);
  try {
    return await readFile(abs);
  } catch (err) {
    throw configError(file, `${where}.${key}: cannot read ${abs}: ${errorText(err)}`, err);
  }
}

/** kubectl resolves relative paths in a kubeconfig against the kubeconfig's own directory. */
function resolveAgainst(file: string, path: string): string {
  return isAbsolute(path) ? path : resolve(dirname(file), path);
}

async function buildConfig(file: string, doc: unknown, contextOverride: string | undefined): Promise<ClientConfig> {
  if (!isObj(doc)) throw configError(file, "not a kubeconfig (expected a map with clusters, users, contexts)");
  const contextName = contextOverride ?? optString(file, doc, "current-context", "");
  if (contextName === undefined) throw configError(file, "current-context is not set and no context was given");
  const why = contextOverride === undefined ? "current-context" : "context";
  const context = findNamed(file, doc, "contexts", "context", contextName, `${why} "${contextName}" is not in contexts`);
  const ctxWhere = `contexts["${contextName}"].context`;

  const clusterName = optString(file, context, "cluster", ctxWhere);
  if (clusterName === undefined) throw configError(file, `${ctxWhere}.cluster is missing`);
  const cluster = findNamed(file, doc, "clusters", "cluster", clusterName, `context "${contextName}" names cluster "${clusterName}", which is not in clusters`);
  const clWhere = `clusters["${clusterName}"].cluster`;

  const serverText = optString(file, cluster, "server", clWhere);
  if (serverText === undefined) throw configError(file, `${clWhere}.server is missing`);
  let server: URL;
  try {
    server = new URL(serverText);
  } catch (err) {
    throw configError(file, `${clWhere}.server "${serverText}" is not a URL`, err);
  }
  if (server.protocol !== "https:" && server.protocol !== "http:") {
    throw configError(file, `${clWhere}.server "${serverText}" must be an https:// (or http://) URL`);
  }
  if (optString(file, cluster, "proxy-url", clWhere) !== undefined) {
    throw configError(file, `${clWhere}.proxy-url is not supported: reach the API server directly`);
  }

  const config: ClientConfig = {
    server,
    insecureSkipTlsVerify: optBool(file, cluster, "insecure-skip-tls-verify", clWhere),
    kubeconfig: { path: file, context: contextName },
  };
  const ca = await readMaterial(file, cluster, "certificate-authority", clWhere);
  if (ca !== undefined) {
    // client-go refuses the combination too: a CA that is never checked hides a mistake.
    if (config.insecureSkipTlsVerify) throw configError(file, `${clWhere} sets both a certificate-authority and insecure-skip-tls-verify: drop one`);
    config.ca = ca;
  }
  const tlsServerName = optString(file, cluster, "tls-server-name", clWhere);
  if (tlsServerName !== undefined) config.tlsServerName = tlsServerName;
  const namespace = optString(file, context, "namespace", ctxWhere);
  if (namespace !== undefined) config.namespace = namespace;

  const userName = optString(file, context, "user", ctxWhere);
  if (userName === undefined) return config; // anonymous, as kubectl allows
  const user = findNamed(file, doc, "users", "user", userName, `context "${contextName}" names user "${userName}", which is not in users`);
  const uWhere = `users["${userName}"].user`;

  for (const unsupported of ["exec", "auth-provider"]) {
    if (user[unsupported] !== undefined && user[unsupported] !== null) {
      throw configError(file, `${uWhere}.${unsupported} is not supported: use a token, tokenFile or client certificate`);
    }
  }
  if (optString(file, user, "username", uWhere) !== undefined || optString(file, user, "password", uWhere) !== undefined) {
    throw configError(file, `${uWhere} uses basic auth (username/password), which Kubernetes no longer supports: use a token or client certificate`);
  }

  const token = optString(file, user, "token", uWhere);
  if (token !== undefined) config.token = token.trim();
  const tokenFile = optString(file, user, "tokenFile", uWhere);
  if (tokenFile !== undefined) {
    config.tokenFile = resolveAgainst(file, tokenFile);
    // Read it once now so a wrong path fails here, naming the kubeconfig, not on the first request.
    try {
      config.token = (await readFile(config.tokenFile, "utf8")).trim();
    } catch (err) {
      throw configError(file, `${uWhere}.tokenFile: cannot read ${config.tokenFile}: ${errorText(err)}`, err);
    }
  }

  const cert = await readMaterial(file, user, "client-certificate", uWhere);
  const key = await readMaterial(file, user, "client-key", uWhere);
  if ((cert === undefined) !== (key === undefined)) {
    const missing = cert === undefined ? "client-certificate(-data)" : "client-key(-data)";
    throw configError(file, `${uWhere}.${missing} is missing: a client certificate needs both the certificate and its key`);
  }
  if (cert !== undefined && key !== undefined) {
    config.cert = cert;
    config.key = key;
  }
  return config;
}

/**
 * The ServiceAccount config a pod gets: KUBERNETES_SERVICE_HOST/PORT, the projected token (which
 * the kubelet rotates, hence `tokenFile`) and the cluster CA.
 */
export async function inClusterConfig(env: NodeJS.ProcessEnv = process.env, saDir: string = SERVICE_ACCOUNT_DIR): Promise<ClientConfig> {
  const host = env["KUBERNETES_SERVICE_HOST"];
  const port = env["KUBERNETES_SERVICE_PORT"];
  if (host === undefined || host === "" || port === undefined || port === "") {
    throw new MultusError("MULTUS_ERR_CONFIG", "in-cluster config: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must both be set (or give a kubeconfig)");
  }
  // An IPv6 literal must be bracketed in a URL; a name or IPv4 address must not be.
  const hostPart = isIPv6(host) ? `[${host}]` : host;
  let server: URL;
  try {
    server = new URL(`https://${hostPart}:${port}`);
  } catch (err) {
    throw new MultusError("MULTUS_ERR_CONFIG", `in-cluster config: KUBERNETES_SERVICE_HOST=${host} KUBERNETES_SERVICE_PORT=${port} do not form a URL`, { cause: err });
  }
  const tokenFile = resolve(saDir, "token");
  const caFile = resolve(saDir, "ca.crt");
  const read = async (f: string): Promise<Buffer> => {
    try {
      return await readFile(f);
    } catch (err) {
      throw new MultusError("MULTUS_ERR_CONFIG", `in-cluster config: cannot read ${f}: ${errorText(err)} (is a ServiceAccount token mounted?)`, { cause: err });
    }
  };
  const token = (await read(tokenFile)).toString("utf8").trim();
  const ca = await read(caFile);
  const config: ClientConfig = { server, ca, insecureSkipTlsVerify: false, token, tokenFile };
  try {
    const namespace = (await readFile(resolve(saDir, "namespace"), "utf8")).trim();
    if (namespace !== "") config.namespace = namespace;
  } catch {
    // Optional: only informative.
  }
  return config;
}

/** Upstream Multus' order: an explicit kubeconfig, else in-cluster when its env is set, else no API. */
export async function resolveClientConfig(kubeconfig: string | undefined, env: NodeJS.ProcessEnv = process.env, saDir: string = SERVICE_ACCOUNT_DIR): Promise<ClientConfig | undefined> {
  const source = clientConfigSource(kubeconfig, env);
  if (source === "kubeconfig" && kubeconfig !== undefined) return loadKubeconfig(kubeconfig);
  if (source === "in-cluster") return inClusterConfig(env, saDir);
  return undefined;
}

/**
 * Where resolveClientConfig would take the API's address from, without reading anything: a caller
 * can tell "no API access" (config-file mode) before it loads the client at all.
 */
export function clientConfigSource(kubeconfig: string | undefined, env: NodeJS.ProcessEnv = process.env): "kubeconfig" | "in-cluster" | undefined {
  if (kubeconfig !== undefined && kubeconfig !== "") return "kubeconfig";
  if ((env["KUBERNETES_SERVICE_HOST"] ?? "") !== "" && (env["KUBERNETES_SERVICE_PORT"] ?? "") !== "") return "in-cluster";
  return undefined;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function oneLine(s: string): string {
  return s.split("\n")[0] ?? s;
}
