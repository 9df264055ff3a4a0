// The kubeconfig thin Multus reads on the host (upstream: /etc/cni/net.d/multus.d/multus.kubeconfig),
// made from the installer pod's own ServiceAccount: the API server from KUBERNETES_SERVICE_HOST/PORT,
// the CA and the projected token embedded. The kubelet rotates that token (and the CA can rotate), so
// the installer re-renders it whenever either changes (installer.ts): a kubeconfig written once at
// boot is what makes upstream's thin Multus fail with "Unauthorized" an hour later (multus#852).
import { readFile } from "node:fs/promises";
import { isIPv6 } from "node:net";
import { join } from "node:path";
import { MultusError } from "../util/multus-error.ts";

export interface KubeconfigSource {
  /** The projected ServiceAccount volume: token, ca.crt (default /var/run/secrets/kubernetes.io/serviceaccount). */
  saDir: string;
  env: NodeJS.ProcessEnv;
  insecureSkipTlsVerify?: boolean;
}

export async function renderKubeconfig(src: KubeconfigSource): Promise<string> {
  const host = src.env["KUBERNETES_SERVICE_HOST"] ?? "";
  const port = src.env["KUBERNETES_SERVICE_PORT"] ?? "";
  if (host === "" || port === "") {
    throw new MultusError(
      "MULTUS_ERR_CONFIG",
      "cannot write the kubeconfig for thin Multus: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set (run multus-install in a pod, or install a Multus config you maintain, kubeconfig included, with --multus-conf-file)",
    );
  }
  const read = async (name: string): Promise<string> => {
    const file = join(src.saDir, name);
    try {
      return (await readFile(file, "utf8")).trim();
    } catch (err) {
      throw new MultusError("MULTUS_ERR_CONFIG", `cannot write the kubeconfig for thin Multus: cannot read ${file}: ${(err as Error).message} (is the ServiceAccount token mounted? automountServiceAccountToken must not be false)`);
    }
  };
  const [token, ca] = await Promise.all([read("token"), read("ca.crt")]);
  const server = `https://${isIPv6(host) ? `[${host}]` : host}:${port}`;
  // JSON is YAML; thin Multus parses a JSON kubeconfig fastest (docs/performance.md).
  const doc = {
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "local", cluster: { server, ...(src.insecureSkipTlsVerify === true ? { "insecure-skip-tls-verify": true } : { "certificate-authority-data": Buffer.from(`${ca}\n`).toString("base64") }) } }],
    users: [{ name: "multus", user: { token } }],
    contexts: [{ name: "multus-context", context: { cluster: "local", user: "multus" } }],
    "current-context": "multus-context",
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}
