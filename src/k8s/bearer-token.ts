// The bearer token a KubeClient sends, kept fresh. Bound ServiceAccount tokens expire (about an
// hour for a projected token; multus#852, rke2#9313): the kubelet or multus-install writes a new
// one, and a long-lived client must notice.
//
// Exported API:
//   class BearerToken(config, reload = loadKubeconfig)
//     current(): Promise<string | undefined>
//         The token to send now. With `tokenFile`: one stat per call, re-read when the file's inode,
//         mtime or size changed (kubelet's atomic symlink swap changes the inode); a file that cannot
//         be read keeps the last good token.
//     refreshAfterUnauthorized(used): Promise<boolean>
//         After a 401: read the token again — the file, or the whole kubeconfig for an inline token
//         (multus-install rewrites it) — and say whether it differs from `used`, i.e. whether one
//         more try is worth it.
//     credentials(): Credentials   — which credential is in use, for the 401 message
//   tokenNodeName(token): string | undefined
//     The node a pod-bound ServiceAccount token names (its `kubernetes.io.node.name` claim), read
//     without verifying: the API server verifies; this only names the reporting node of an event.
import { readFile, stat } from "node:fs/promises";
import { MultusError } from "../util/multus-error.ts";
import type { ClientConfig } from "./client-config.ts";
import { loadKubeconfig } from "./client-config.ts";
import type { Credentials } from "./kube-api-error.ts";

type Reload = (path: string, options: { context: string }) => Promise<ClientConfig>;

export class BearerToken {
  #token: string | undefined;
  #tokenFile: string | undefined;
  #fileKey = "";
  readonly #kubeconfig: ClientConfig["kubeconfig"];
  readonly #hasCert: boolean;
  readonly #reload: Reload;

  constructor(config: ClientConfig, reload: Reload = loadKubeconfig) {
    this.#token = nonEmpty(config.token);
    this.#tokenFile = config.tokenFile;
    this.#kubeconfig = config.kubeconfig;
    this.#hasCert = config.cert !== undefined;
    this.#reload = reload;
  }

  async current(): Promise<string | undefined> {
    const file = this.#tokenFile;
    if (file === undefined) return this.#token;
    let key: string;
    try {
      const st = await stat(file);
      key = `${st.ino}:${st.mtimeMs}:${st.size}`;
    } catch (err) {
      return this.#lastGood(file, err);
    }
    if (key !== this.#fileKey) {
      try {
        const token = nonEmpty((await readFile(file, "utf8")).trim());
        if (token !== undefined) this.#token = token;
        this.#fileKey = key;
      } catch (err) {
        return this.#lastGood(file, err);
      }
    }
    return this.#token;
  }

  /** True when the token now differs from the one a 401 rejected, so one more try can succeed. */
  async refreshAfterUnauthorized(used: string | undefined): Promise<boolean> {
    if (this.#tokenFile !== undefined) {
      try {
        const token = nonEmpty((await readFile(this.#tokenFile, "utf8")).trim());
        if (token !== undefined) this.#token = token;
        this.#fileKey = ""; // the next current() stats again and records the new key
      } catch {
        // Keep the old token; the 401 stands.
      }
      return this.#token !== used;
    }
    if (this.#kubeconfig !== undefined && used !== undefined) {
      try {
        const fresh = await this.#reload(this.#kubeconfig.path, { context: this.#kubeconfig.context });
        if (fresh.tokenFile !== undefined) this.#tokenFile = fresh.tokenFile;
        const token = nonEmpty(fresh.token);
        if (token !== undefined) this.#token = token;
      } catch {
        // A kubeconfig being rewritten may be unreadable for a moment; the 401 stands.
      }
      return this.#token !== used;
    }
    return false;
  }

  credentials(): Credentials {
    const kubeconfig = this.#kubeconfig === undefined ? {} : { kubeconfig: this.#kubeconfig.path };
    if (this.#tokenFile !== undefined) return { kind: "tokenFile", file: this.#tokenFile };
    if (this.#token !== undefined) return { kind: "token", ...kubeconfig };
    if (this.#hasCert) return { kind: "clientCertificate", ...kubeconfig };
    return { kind: "none", ...kubeconfig };
  }

  #lastGood(file: string, err: unknown): string {
    if (this.#token !== undefined) return this.#token;
    throw new MultusError("MULTUS_ERR_API_FORBIDDEN", `cannot read the API token file ${file}: ${err instanceof Error ? err.message : String(err)}: check the kubeconfig's tokenFile / the ServiceAccount token mount`, { cause: err });
  }
}

function nonEmpty(s: string | undefined): string | undefined {
  return s === undefined || s === "" ? undefined : s;
}

/** The `kubernetes.io` claim's node name of a JWT, or undefined (not a JWT, or no node in it). */
export function tokenNodeName(token: string | undefined): string | undefined {
  const payload = token?.split(".")[1];
  if (payload === undefined || payload.length > 16_384) return undefined;
  try {
    const claims: unknown = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
    const k8s = typeof claims === "object" && claims !== null ? (claims as Record<string, unknown>)["kubernetes.io"] : undefined;
    const node = typeof k8s === "object" && k8s !== null ? (k8s as Record<string, unknown>)["node"] : undefined;
    const name = typeof node === "object" && node !== null ? (node as Record<string, unknown>)["name"] : undefined;
    return typeof name === "string" && name !== "" ? name : undefined;
  } catch {
    return undefined;
  }
}
