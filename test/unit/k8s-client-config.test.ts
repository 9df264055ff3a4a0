// Kubeconfig and in-cluster config loading (src/k8s/client-config.ts): YAML and JSON, relative
// paths against the kubeconfig's directory, base64 data, client-go's precedence rules, and errors
// that name the file and the key.
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { inClusterConfig, loadKubeconfig, resolveClientConfig } from "../../src/k8s/client-config.ts";
import { MultusError } from "../../src/util/multus-error.ts";

// Not real PEM: the loader only reads bytes; TLS validation happens in the client.
const CA = "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n";
const CERT = "-----BEGIN CERTIFICATE-----\nCLIENT\n-----END CERTIFICATE-----\n";
const KEY = "-----BEGIN PRIVATE KEY-----\nKEY\n-----END PRIVATE KEY-----\n";
const b64 = (s: string): string => Buffer.from(s).toString("base64");

let dir = "";
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "mt-k8s-config-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

let counter = 0;
/** Writes `text` as a kubeconfig in a fresh sub-directory and returns its path. */
async function kubeconfig(text: string, files: Record<string, string> = {}): Promise<string> {
  const sub = join(dir, `k${counter++}`);
  await mkdir(sub, { recursive: true });
  for (const [name, content] of Object.entries(files)) {
    await mkdir(join(sub, name, ".."), { recursive: true });
    await writeFile(join(sub, name), content);
  }
  const path = join(sub, "config");
  await writeFile(path, text);
  return path;
}

/** Asserts a MULTUS_ERR_CONFIG whose one-line message names the file and matches `re`. */
async function rejectsConfig(p: Promise<unknown>, file: string, re: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof MultusError, String(err));
    assert.equal(err.errorCode, "MULTUS_ERR_CONFIG");
    assert.equal(err.code, 7);
    assert.ok(err.message.includes(file), `message should name ${file}: ${err.message}`);
    assert.match(err.message, re);
    assert.ok(!err.message.includes("\n"), "one line");
    return true;
  });
}

const yamlConfig = (user: string, cluster = "    server: https://10.0.0.1:6443\n    certificate-authority: pki/ca.crt\n"): string => `apiVersion: v1
kind: Config
current-context: multus
clusters:
- name: local
  cluster:
${cluster}contexts:
- name: other
  context: {cluster: local, user: nobody}
- name: multus
  context:
    cluster: local
    user: multus
    namespace: kube-system
users:
- name: nobody
  user: {}
- name: multus
  user:
${user}`;

describe("loadKubeconfig", () => {
  test("YAML: relative certificate-authority, client-certificate, client-key and tokenFile resolve against the kubeconfig's directory", async () => {
    const path = await kubeconfig(yamlConfig("    client-certificate: pki/client.crt\n    client-key: ../k-key/client.key\n    tokenFile: token\n"), {
      "pki/ca.crt": CA,
      "pki/client.crt": CERT,
      token: "tok-from-file\n",
    });
    // The key lives outside the kubeconfig's directory: `..` must resolve from there, not from the cwd.
    await mkdir(join(dir, "k-key"), { recursive: true });
    await writeFile(join(dir, "k-key", "client.key"), KEY);
    const cfg = await loadKubeconfig(path);
    assert.equal(cfg.server.href, "https://10.0.0.1:6443/");
    assert.equal(cfg.ca?.toString(), CA);
    assert.equal(cfg.cert?.toString(), CERT);
    assert.equal(cfg.key?.toString(), KEY);
    assert.equal(cfg.tokenFile, join(path, "..", "token"));
    assert.equal(cfg.token, "tok-from-file", "read once at load, trimmed");
    assert.equal(cfg.insecureSkipTlsVerify, false);
    assert.equal(cfg.namespace, "kube-system");
    assert.deepEqual(cfg.kubeconfig, { path, context: "multus" });
  });

  test("JSON with base64 -data fields; -data wins over the file path (client-go)", async () => {
    const doc = {
      apiVersion: "v1",
      kind: "Config",
      "current-context": "c",
      clusters: [{ name: "k", cluster: { server: "https://[fd00::1]:6443/prefix", "certificate-authority-data": b64(CA), "certificate-authority": "/nonexistent/ca.crt" } }],
      contexts: [{ name: "c", context: { cluster: "k", user: "u" } }],
      users: [{ name: "u", user: { "client-certificate-data": b64(CERT), "client-key-data": b64(KEY), "client-key": "/nonexistent/key" } }],
    };
    const path = await kubeconfig(JSON.stringify(doc));
    const cfg = await loadKubeconfig(path);
    assert.equal(cfg.server.hostname, "[fd00::1]");
    assert.equal(cfg.server.pathname, "/prefix");
    assert.equal(cfg.ca?.toString(), CA);
    assert.equal(cfg.cert?.toString(), CERT);
    assert.equal(cfg.key?.toString(), KEY);
    assert.equal(cfg.token, undefined);
  });

  test("base64 -data with line breaks (as some tools wrap it) decodes", async () => {
    const wrapped = b64(CA).replace(/(.{20})/g, "$1\n      ");
    const path = await kubeconfig(yamlConfig("    token: abc\n", `    server: https://h:1\n    certificate-authority-data: |\n      ${wrapped}\n`));
    assert.equal((await loadKubeconfig(path)).ca?.toString(), CA);
  });

  test("inline token, trimmed; tokenFile beats token when both are set", async () => {
    const inline = await kubeconfig(yamlConfig("    token: ' inline-token '\n"), { "pki/ca.crt": CA });
    const cfg = await loadKubeconfig(inline);
    assert.equal(cfg.token, "inline-token");
    assert.equal(cfg.tokenFile, undefined);

    const both = await kubeconfig(yamlConfig("    token: inline-token\n    tokenFile: t\n"), { "pki/ca.crt": CA, t: "file-token" });
    const cfg2 = await loadKubeconfig(both);
    assert.equal(cfg2.token, "file-token");
    assert.equal(cfg2.tokenFile, join(both, "..", "t"));
  });

  test("an explicit context overrides current-context", async () => {
    const path = await kubeconfig(yamlConfig("    token: x\n"), { "pki/ca.crt": CA });
    const cfg = await loadKubeconfig(path, { context: "other" });
    assert.equal(cfg.token, undefined, "user nobody has no credentials");
    assert.deepEqual(cfg.kubeconfig, { path, context: "other" });
  });

  test("YAML 1.1 booleans, as the Go loader reads them", async () => {
    const path = await kubeconfig(yamlConfig("    token: x\n", "    server: https://h:6443\n    insecure-skip-tls-verify: yes\n"));
    assert.equal((await loadKubeconfig(path)).insecureSkipTlsVerify, true);
  });

  test("tls-server-name is kept for SNI/verification", async () => {
    const path = await kubeconfig(yamlConfig("    token: x\n", "    server: https://10.0.0.1:6443\n    tls-server-name: kubernetes.default.svc\n    certificate-authority-data: " + b64(CA) + "\n"));
    assert.equal((await loadKubeconfig(path)).tlsServerName, "kubernetes.default.svc");
  });

  describe("errors name the file and the key", () => {
    test("missing file", async () => {
      const missing = join(dir, "nope", "config");
      await rejectsConfig(loadKubeconfig(missing), missing, /cannot read it: ENOENT/);
    });
    test("not YAML", async () => {
      const path = await kubeconfig("a: [1, 2\n");
      await rejectsConfig(loadKubeconfig(path), path, /invalid YAML/);
    });
    test("not JSON", async () => {
      const path = await kubeconfig("{ \"clusters\": [ }");
      await rejectsConfig(loadKubeconfig(path), path, /invalid JSON/);
    });
    test("no current-context", async () => {
      const path = await kubeconfig("apiVersion: v1\nclusters: []\n");
      await rejectsConfig(loadKubeconfig(path), path, /current-context is not set/);
    });
    test("current-context not among contexts", async () => {
      const path = await kubeconfig(yamlConfig("    token: x\n").replace("current-context: multus", "current-context: ghost"));
      await rejectsConfig(loadKubeconfig(path), path, /current-context "ghost" is not in contexts/);
    });
    test("context names a cluster that does not exist", async () => {
      const path = await kubeconfig(yamlConfig("    token: x\n").replace("cluster: local\n    user: multus", "cluster: elsewhere\n    user: multus"));
      await rejectsConfig(loadKubeconfig(path), path, /context "multus" names cluster "elsewhere", which is not in clusters/);
    });
    test("context names a user that does not exist", async () => {
      const path = await kubeconfig(yamlConfig("    token: x\n").replace("user: multus\n    namespace", "user: ghost\n    namespace"), { "pki/ca.crt": CA });
      await rejectsConfig(loadKubeconfig(path), path, /names user "ghost", which is not in users/);
    });
    test("cluster without server", async () => {
      const path = await kubeconfig(yamlConfig("    token: x\n", "    insecure-skip-tls-verify: true\n"));
      await rejectsConfig(loadKubeconfig(path), path, /clusters\["local"\]\.cluster\.server is missing/);
    });
    test("server that is not an http(s) URL", async () => {
      const path = await kubeconfig(yamlConfig("    token: x\n", "    server: unix:///run/api.sock\n"));
      await rejectsConfig(loadKubeconfig(path), path, /server "unix:\/\/\/run\/api.sock" must be an https:\/\//);
    });
    test("certificate-authority file that cannot be read names the resolved path", async () => {
      const path = await kubeconfig(yamlConfig("    token: x\n"));
      await rejectsConfig(loadKubeconfig(path), path, new RegExp(`certificate-authority: cannot read ${join(path, "..", "pki", "ca.crt").replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}`));
    });
    test("invalid base64 in -data", async () => {
      const path = await kubeconfig(yamlConfig("    client-certificate-data: '!!notbase64!!'\n    client-key-data: " + b64(KEY) + "\n"), { "pki/ca.crt": CA });
      await rejectsConfig(loadKubeconfig(path), path, /users\["multus"\]\.user\.client-certificate-data is not valid base64/);
    });
    test("client certificate without its key", async () => {
      const path = await kubeconfig(yamlConfig("    client-certificate-data: " + b64(CERT) + "\n"), { "pki/ca.crt": CA });
      await rejectsConfig(loadKubeconfig(path), path, /client-key\(-data\) is missing/);
    });
    test("tokenFile that cannot be read", async () => {
      const path = await kubeconfig(yamlConfig("    tokenFile: /nonexistent/token\n"), { "pki/ca.crt": CA });
      await rejectsConfig(loadKubeconfig(path), path, /tokenFile: cannot read \/nonexistent\/token/);
    });
    test("exec credential plugins are refused (the CNI hot path runs none)", async () => {
      const path = await kubeconfig(yamlConfig("    exec:\n      command: aws\n"), { "pki/ca.crt": CA });
      await rejectsConfig(loadKubeconfig(path), path, /users\["multus"\]\.user\.exec is not supported/);
    });
    test("a CA together with insecure-skip-tls-verify is refused (client-go too)", async () => {
      const path = await kubeconfig(yamlConfig("    token: x\n", "    server: https://h:1\n    insecure-skip-tls-verify: true\n    certificate-authority-data: " + b64(CA) + "\n"));
      await rejectsConfig(loadKubeconfig(path), path, /both a certificate-authority and insecure-skip-tls-verify/);
    });
  });
});

describe("inClusterConfig", () => {
  async function saDir(files: Record<string, string>): Promise<string> {
    const d = join(dir, `sa${counter++}`);
    await mkdir(d, { recursive: true });
    for (const [name, content] of Object.entries(files)) await writeFile(join(d, name), content);
    return d;
  }

  test("IPv4 host, token file (kept for rotation), CA and namespace", async () => {
    const sa = await saDir({ token: "sa-token\n", "ca.crt": CA, namespace: "kube-system" });
    const cfg = await inClusterConfig({ KUBERNETES_SERVICE_HOST: "10.96.0.1", KUBERNETES_SERVICE_PORT: "443" }, sa);
    assert.equal(cfg.server.href, "https://10.96.0.1/", "443 is https' default port");
    assert.equal(cfg.token, "sa-token");
    assert.equal(cfg.tokenFile, join(sa, "token"));
    assert.equal(cfg.ca?.toString(), CA);
    assert.equal(cfg.namespace, "kube-system");
    assert.equal(cfg.insecureSkipTlsVerify, false);
  });

  test("an IPv6 service host is bracketed", async () => {
    const sa = await saDir({ token: "t", "ca.crt": CA });
    const cfg = await inClusterConfig({ KUBERNETES_SERVICE_HOST: "fd00:10:96::1", KUBERNETES_SERVICE_PORT: "6443" }, sa);
    assert.equal(cfg.server.host, "[fd00:10:96::1]:6443");
    assert.equal(cfg.namespace, undefined);
  });

  test("missing env or token is a clear MULTUS_ERR_CONFIG", async () => {
    const sa = await saDir({ "ca.crt": CA });
    await assert.rejects(inClusterConfig({ KUBERNETES_SERVICE_HOST: "10.96.0.1" }, sa), /KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must both be set/);
    await assert.rejects(inClusterConfig({ KUBERNETES_SERVICE_HOST: "10.96.0.1", KUBERNETES_SERVICE_PORT: "443" }, sa), (err: unknown) => {
      assert.ok(err instanceof MultusError);
      assert.equal(err.errorCode, "MULTUS_ERR_CONFIG");
      assert.match(err.message, new RegExp(`cannot read ${join(sa, "token")}`));
      return true;
    });
  });

  test("resolveClientConfig: kubeconfig first, then in-cluster env, else no API", async () => {
    const sa = await saDir({ token: "t", "ca.crt": CA });
    const path = await kubeconfig(yamlConfig("    token: from-kubeconfig\n"), { "pki/ca.crt": CA });
    const env = { KUBERNETES_SERVICE_HOST: "10.96.0.1", KUBERNETES_SERVICE_PORT: "443" };
    assert.equal((await resolveClientConfig(path, env, sa))?.token, "from-kubeconfig");
    assert.equal((await resolveClientConfig(undefined, env, sa))?.token, "t");
    assert.equal(await resolveClientConfig(undefined, {}, sa), undefined);
  });
});
