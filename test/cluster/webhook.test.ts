// The admission webhook on the real kube-apiserver: the built executable (`dist/bin/multusctl webhook
// serve`) on loopback, registered by a ValidatingWebhookConfiguration with `url:
// https://127.0.0.1:<port>/validate`, scoped by a namespaceSelector to the test's own namespace (no
// other test's objects ever reach it) and deleted when the test ends. kubectl is the client.
//
//   - with a certificate the test makes (--tls-cert-dir): a JSON typo and Multus itself as the
//     delegate are refused with messages naming the field; a good bridge NAD is admitted; one with
//     only warning-level findings is admitted and kubectl prints the warning; with the webhook killed
//     and the shipped failurePolicy, an unrelated ConfigMap and a NAD are still created;
//   - with its own CA (no --tls-cert-dir): it writes the Secret, sets the caBundle of the
//     configuration it is told about, and the apiserver then trusts it.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it, type TestContext } from "node:test";
import { parse } from "yaml";
import { createCertificateAuthority, issueServingCertificate, type PemPair } from "../../src/webhook/webhook-certificates.ts";
import { applyYaml, createNamespace, kubectl, repoRoot, tryKubectl, uniqueName, useCluster } from "./harness.ts";

const cluster = useCluster();
const multusctl = join(repoRoot, "dist", "bin", "multusctl");
const DAY = 86_400_000;

/** The shipped ValidatingWebhookConfiguration's failurePolicy and timeoutSeconds (deploy/webhook). */
function shippedPolicy(): { failurePolicy: string; timeoutSeconds: number } {
  const doc = parse(readFileSync(join(repoRoot, "deploy", "webhook", "base", "validating-webhook-configuration.yaml"), "utf8")) as {
    webhooks: { failurePolicy: string; timeoutSeconds: number }[];
  };
  const first = doc.webhooks[0];
  assert.ok(first !== undefined);
  return { failurePolicy: first.failurePolicy, timeoutSeconds: first.timeoutSeconds };
}

interface Webhook {
  child: ChildProcess;
  port: number;
  stderr: () => string;
}

/** Starts the real executable; resolves once it logs the port it serves on. */
async function startWebhook(t: TestContext, args: readonly string[]): Promise<Webhook> {
  const child = spawn(multusctl, [...args], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.setEncoding("utf8");
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`the webhook did not start within 20 s:\n${stderr}`));
    }, 20_000);
    child.stderr.on("data", (chunk: string) => {
      stderr += chunk;
      const m = /"msg":"serving".*"port":(\d+)/.exec(stderr);
      if (m !== null) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the webhook exited with ${String(code)}:\n${stderr}`));
    });
  });
  return { child, port, stderr: () => stderr };
}

function configurationYaml(name: string, namespace: string, port: number, caBundle: string | undefined): string {
  const { failurePolicy, timeoutSeconds } = shippedPolicy();
  return JSON.stringify({
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "ValidatingWebhookConfiguration",
    metadata: { name },
    webhooks: [
      {
        name: "nad.multus-ts.test",
        admissionReviewVersions: ["v1"],
        sideEffects: "None",
        failurePolicy,
        timeoutSeconds,
        clientConfig: { url: `https://127.0.0.1:${port}/validate`, ...(caBundle === undefined ? {} : { caBundle }) },
        namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": namespace } },
        rules: [
          { apiGroups: ["k8s.cni.cncf.io"], apiVersions: ["*"], operations: ["CREATE", "UPDATE"], resources: ["network-attachment-definitions"], scope: "Namespaced" },
          { apiGroups: ["kubernetes.com"], apiVersions: ["*"], operations: ["CREATE", "UPDATE"], resources: ["networks"], scope: "Namespaced" },
        ],
      },
    ],
  });
}

function nad(name: string, config: string): string {
  return JSON.stringify({ apiVersion: "k8s.cni.cncf.io/v1", kind: "NetworkAttachmentDefinition", metadata: { name }, spec: { config } });
}

async function registerConfiguration(t: TestContext, name: string, yaml: string): Promise<void> {
  await applyYaml(yaml);
  t.after(async () => {
    await kubectl(["delete", "validatingwebhookconfiguration", name, "--ignore-not-found"]);
  });
}

function readyz(port: number, ca: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path: "/readyz", ca, timeout: 5_000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.once("timeout", () => req.destroy(new Error("no answer from /readyz in 5 s")));
    req.once("error", reject);
    req.end();
  });
}

/** The apiserver reads new webhook configurations through an informer: retry until this one is in force. */
async function eventually<T>(what: string, attempt: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const got = await attempt();
    if (got !== undefined) return got;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

describe("the admission webhook on the real kube-apiserver", () => {
  it("refuses broken NADs naming the field, admits good ones with their warnings, and blocks nothing when it is down", async (t) => {
    const namespace = await createNamespace(t);
    const dir = mkdtempSync(join(tmpdir(), "webhook-test-"));
    t.after(() => {
      rmSync(dir, { recursive: true, force: true });
    });
    const now = Date.now();
    const ca: PemPair = createCertificateAuthority({ commonName: "webhook-test-ca", notBefore: new Date(now - 3_600_000), notAfter: new Date(now + DAY) });
    const serving = issueServingCertificate({ commonName: "127.0.0.1", hosts: ["127.0.0.1"], ca, notBefore: new Date(now - 3_600_000), notAfter: new Date(now + DAY) });
    writeFileSync(join(dir, "tls.crt"), serving.certPem);
    writeFileSync(join(dir, "tls.key"), serving.keyPem, { mode: 0o600 });
    // The daemon's ConfigMap as deploy/thick ships it: its thin keys (none about policy) apply.
    const daemonConfig = join(dir, "daemon-config.json");
    writeFileSync(daemonConfig, JSON.stringify({ chrootDir: "/hostroot", socketDir: "/run/multus", cniDir: "/var/lib/cni/multus", metricsPort: 9191, logLevel: "verbose" }));

    const webhook = await startWebhook(t, ["--config", daemonConfig, "webhook", "serve", "--listen", "127.0.0.1:0", "--tls-cert-dir", dir]);
    assert.equal(await readyz(webhook.port, ca.certPem), 200);
    const name = uniqueName("webhook-test");
    await registerConfiguration(t, name, configurationYaml(name, namespace, webhook.port, Buffer.from(ca.certPem).toString("base64")));

    // 1. A JSON typo (a trailing comma). The first attempts may pass before the apiserver's informer
    //    has the configuration: those NADs are deleted and the attempt repeated.
    const typo = '{"cniVersion": "1.0.0", "type": "bridge", "bridge": "br-typo",}';
    const refused = await eventually("the typo refused", async () => {
      const r = await tryKubectl(["create", "-f", "-"], { namespace, input: nad("typo", typo) });
      if (r.code === 0) {
        await kubectl(["delete", "nad", "typo", "--ignore-not-found"], { namespace });
        return undefined;
      }
      return r;
    });
    t.diagnostic(refused.stderr.trim());
    assert.match(refused.stderr, /admission webhook "nad\.multus-ts\.test" denied the request/);
    assert.match(refused.stderr, /spec\.config is not valid JSON/);
    assert.match(refused.stderr, /MULTUS_ERR_NAD_CONFIG/);

    // 2. Multus itself as the delegate: the delegate policy's message.
    const self = await tryKubectl(["create", "-f", "-"], { namespace, input: nad("itself", '{"cniVersion": "1.0.0", "name": "itself", "type": "multus"}') });
    t.diagnostic(self.stderr.trim());
    assert.notEqual(self.code, 0);
    assert.match(self.stderr, /denied the request/);
    assert.match(self.stderr, /spec\.config/);
    assert.match(self.stderr, /one of Multus's own programs/);
    assert.match(self.stderr, /MULTUS_ERR_DELEGATE_REFUSED/);

    // 3. A good bridge NAD is admitted, without warnings.
    const good = await tryKubectl(["create", "-f", "-"], {
      namespace,
      input: nad("good", '{"cniVersion": "1.0.0", "name": "good", "type": "bridge", "bridge": "br-good", "ipam": {"type": "host-local", "subnet": "10.99.0.0/24"}}'),
    });
    assert.equal(good.code, 0, good.stderr);
    assert.doesNotMatch(good.stderr, /Warning/);

    // 4. Only warning-level findings (a key bridge does not know): admitted, kubectl prints the warning.
    const warned = await tryKubectl(["create", "-f", "-"], { namespace, input: nad("warned", '{"cniVersion": "1.0.0", "name": "warned", "type": "bridge", "bridgee": "br-x"}') });
    t.diagnostic(warned.stderr.trim());
    assert.equal(warned.code, 0, warned.stderr);
    assert.match(warned.stderr, /^Warning: .*bridgee/m);

    // 5. An update that keeps a refused config can still change labels (objects from before the webhook).
    const relabel = await tryKubectl(["label", "nad", "warned", "team=net"], { namespace });
    assert.equal(relabel.code, 0, relabel.stderr);

    // 6. The webhook down (killed by its PID): with the shipped failurePolicy nothing unrelated is blocked.
    const pid = webhook.child.pid;
    assert.ok(pid !== undefined);
    process.kill(pid, "SIGKILL");
    await once(webhook.child, "exit");
    const { failurePolicy } = shippedPolicy();
    const started = Date.now();
    await kubectl(["create", "configmap", "unrelated", "--from-literal=a=b"], { namespace });
    const afterDown = await tryKubectl(["create", "-f", "-"], { namespace, input: nad("while-down", typo) });
    t.diagnostic(`with the webhook down (failurePolicy ${failurePolicy}): ${afterDown.code === 0 ? "created" : afterDown.stderr.trim()} in ${Date.now() - started} ms`);
    if (failurePolicy === "Ignore") assert.equal(afterDown.code, 0, afterDown.stderr);
    else assert.match(afterDown.stderr, /failed calling webhook/);
  });

  it("with its own CA: writes the Secret, sets the caBundle of its configuration, and is trusted", async (t) => {
    const namespace = await createNamespace(t);
    const dir = mkdtempSync(join(tmpdir(), "webhook-test-"));
    t.after(() => {
      rmSync(dir, { recursive: true, force: true });
    });
    const daemonConfig = join(dir, "daemon-config.json");
    writeFileSync(daemonConfig, JSON.stringify({ logLevel: "verbose" }));
    // The configuration exists first, without a caBundle (as deploy/webhook ships it); the port is
    // fixed up once the webhook listens.
    const name = uniqueName("webhook-self");
    const secret = "webhook-test-tls";
    const webhook = await startWebhook(t, [
      "--kubeconfig", cluster.adminKubeconfig, "-n", namespace, "--config", daemonConfig,
      "webhook", "serve", "--listen", "127.0.0.1:0", "--secret-name", secret, "--webhook-config-name", "", "--tls-hosts", "127.0.0.1",
    ]);
    await registerConfiguration(t, name, configurationYaml(name, namespace, webhook.port, undefined));
    // A second process, as a second replica would, finds the Secret and sets the caBundle.
    const second = await startWebhook(t, [
      "--kubeconfig", cluster.adminKubeconfig, "-n", namespace, "--config", daemonConfig,
      "webhook", "serve", "--listen", "127.0.0.1:0", "--secret-name", secret, "--webhook-config-name", name, "--tls-hosts", "127.0.0.1",
    ]);
    assert.doesNotMatch(second.stderr(), /renewing/, "the second replica must use the Secret the first wrote");
    assert.match(webhook.stderr(), /renewing the webhook's certificates/);
    const stored = JSON.parse(await kubectl(["get", "secret", secret, "-o", "json"], { namespace })) as { data: Record<string, string> };
    assert.deepEqual(Object.keys(stored.data).sort(), ["ca.crt", "ca.key", "tls.crt", "tls.key"]);
    const caPem = Buffer.from(stored.data["ca.crt"] ?? "", "base64").toString("utf8");
    const config = JSON.parse(await kubectl(["get", "validatingwebhookconfiguration", name, "-o", "json"])) as { webhooks: { clientConfig: { caBundle?: string } }[] };
    assert.equal(Buffer.from(config.webhooks[0]?.clientConfig.caBundle ?? "", "base64").toString("utf8"), caPem);
    assert.equal(await readyz(webhook.port, caPem), 200);

    const refused = await eventually("Multus as delegate refused", async () => {
      const r = await tryKubectl(["create", "-f", "-"], { namespace, input: nad("itself", '{"cniVersion": "1.0.0", "name": "itself", "type": "multus-shim"}') });
      if (r.code === 0) {
        await kubectl(["delete", "nad", "itself", "--ignore-not-found"], { namespace });
        return undefined;
      }
      return r;
    });
    assert.match(refused.stderr, /denied the request.*MULTUS_ERR_DELEGATE_REFUSED/s);

    // SIGTERM: a graceful stop, exit code 0.
    webhook.child.kill("SIGTERM");
    const [code] = (await once(webhook.child, "exit")) as [number | null];
    assert.equal(code, 0, webhook.stderr());
    assert.match(webhook.stderr(), /"msg":"shutting down","signal":"SIGTERM"/);
  });
});
