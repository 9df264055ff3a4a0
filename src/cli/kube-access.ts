// Which API server multusctl talks to, decided as kubectl decides it:
//   1. --kubeconfig FILE;
//   2. $KUBECONFIG: its colon-separated list, merged as kubectl merges it (src/k8s/client-config.ts,
//      loadKubeconfigs: the first file naming a cluster, user or context wins, current-context is
//      the first one set, files that do not exist are skipped);
//   3. ~/.kube/config, when it exists;
//   4. in-cluster (KUBERNETES_SERVICE_HOST/PORT and the ServiceAccount token), inside a pod.
// --context picks a context other than current-context. The namespace is -n, else the context's
// (in-cluster: the pod's), else "default".
//
// Exported API:
//   interface KubeAccess { client: KubeClient; namespace: string; source: string }
//   kubeconfigPaths(globals, env, home): string[] | undefined  steps 1–3, without reading a file
//   openKubeAccess(globals, env, home): Promise<KubeAccess>    MultusError MULTUS_ERR_CONFIG when none
import { existsSync } from "node:fs";
import { delimiter, join } from "node:path";
import { inClusterConfig, loadKubeconfigs, SERVICE_ACCOUNT_DIR } from "../k8s/client-config.ts";
import { KubeClient } from "../k8s/kube-client.ts";
import { MultusError } from "../util/multus-error.ts";
import type { GlobalOptions } from "./global-options.ts";

export interface KubeAccess {
  client: KubeClient;
  namespace: string;
  /** The kubeconfig file, or "in-cluster": messages say where the credentials came from. */
  source: string;
}

export function kubeconfigPaths(globals: Pick<GlobalOptions, "kubeconfig">, env: NodeJS.ProcessEnv, home: string | undefined): string[] | undefined {
  if (globals.kubeconfig !== undefined) return [globals.kubeconfig];
  const list = (env["KUBECONFIG"] ?? "").split(delimiter).filter((p) => p !== "");
  if (list.some((p) => existsSync(p))) return list;
  if (home !== undefined && home !== "") {
    const own = join(home, ".kube", "config");
    if (existsSync(own)) return [own];
  }
  return undefined;
}

export async function openKubeAccess(globals: GlobalOptions, env: NodeJS.ProcessEnv, home: string | undefined, saDir = SERVICE_ACCOUNT_DIR): Promise<KubeAccess> {
  const paths = kubeconfigPaths(globals, env, home);
  let source: string;
  let config;
  if (paths !== undefined) {
    config = await loadKubeconfigs(paths, globals.context === undefined ? {} : { context: globals.context });
    source = paths.join(delimiter);
  } else if ((env["KUBERNETES_SERVICE_HOST"] ?? "") !== "") {
    if (globals.context !== undefined) throw new MultusError("MULTUS_ERR_CONFIG", "--context needs a kubeconfig, and none was found (--kubeconfig, $KUBECONFIG, ~/.kube/config)");
    config = await inClusterConfig(env, saDir);
    source = "in-cluster";
  } else {
    throw new MultusError("MULTUS_ERR_CONFIG", "no kubeconfig: give --kubeconfig, set $KUBECONFIG, create ~/.kube/config, or run inside a pod with a ServiceAccount");
  }
  return {
    client: new KubeClient(config, { userAgent: "multusctl", requestTimeoutMs: 15_000, retry: { attempts: 2 } }),
    namespace: globals.namespace ?? config.namespace ?? "default",
    source,
  };
}
