// The webhook's HTTPS server (src/webhook/webhook-server.ts) on loopback with a certificate from its
// own generator, spoken to by node:https with that CA as the only root: reviews beyond the in-flight
// cap are refused at once with 429 (their bodies never held), the ones in flight still answered; an
// oversized body is cut off. Real TLS, real HTTP; the admission decision is a stand-in that waits.
import assert from "node:assert/strict";
import { request } from "node:https";
import { after, before, describe, test } from "node:test";
import { createLogger } from "../../src/util/logger.ts";
import { createCertificateAuthority, issueServingCertificate } from "../../src/webhook/webhook-certificates.ts";
import { MAX_BODY_BYTES, WebhookServer } from "../../src/webhook/webhook-server.ts";

const now = Date.now();
const ca = createCertificateAuthority({ commonName: "test-ca", notBefore: new Date(now - 3_600_000), notAfter: new Date(now + 86_400_000) });
const serving = issueServingCertificate({ commonName: "multus-webhook", hosts: ["127.0.0.1"], ca, notBefore: new Date(now - 3_600_000), notAfter: new Date(now + 86_400_000) });

let release: () => void = () => undefined;
let gate = new Promise<void>((r) => (release = r));
let server: WebhookServer;
let port = 0;

before(async () => {
  server = new WebhookServer({
    host: "127.0.0.1",
    port: 0,
    maxInFlight: 2,
    tls: { load: () => Promise.resolve(serving), watch: () => undefined, close: () => undefined },
    logger: createLogger({ level: "error", component: "test", stderr: () => undefined }),
    admit: async () => {
      await gate;
      return { allowed: true, warnings: [] };
    },
  });
  port = (await server.start()).port;
});
after(async () => {
  release();
  await server.stop(1_000);
});

function review(uid: string, body?: string): Promise<{ status: number; body: string }> {
  const payload = body ?? JSON.stringify({ apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", request: { uid, kind: { group: "k8s.cni.cncf.io", version: "v1", kind: "NetworkAttachmentDefinition" }, resource: { group: "k8s.cni.cncf.io", version: "v1", resource: "network-attachment-definitions" }, operation: "CREATE", namespace: "t", name: "n", object: {} } });
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path: "/validate?timeout=5s", method: "POST", ca: ca.certPem, agent: false, headers: { "content-type": "application/json" } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() });
      });
    });
    req.on("error", reject);
    req.end(payload);
  });
}

describe("the webhook's HTTPS server", () => {
  test("beyond maxInFlight reviews are refused with 429 at once; those in flight are answered", { timeout: 15_000 }, async () => {
    const first = review("a");
    const second = review("b");
    await new Promise((r) => setTimeout(r, 200));
    const third = await review("c");
    assert.equal(third.status, 429, third.body);
    assert.match(third.body, /more than 2 admission reviews at once; try again/);
    release();
    for (const r of await Promise.all([first, second])) {
      assert.equal(r.status, 200, r.body);
      assert.equal((JSON.parse(r.body) as { response: { allowed: boolean } }).response.allowed, true);
    }
    gate = Promise.resolve();
    assert.equal((await review("d")).status, 200, "once they are answered, the next review is taken");
  });

  test("a body over the limit is cut off (the connection closed, nothing buffered beyond the limit) and the server goes on", async () => {
    // The server destroys the connection as soon as the declared length is over the limit, so the
    // client sees its write reset (or, when the answer wins the race, 413).
    const outcome = await review("big", `{"pad":"${"x".repeat(MAX_BODY_BYTES)}"}`).then(
      (r) => String(r.status),
      (err: unknown) => (err as NodeJS.ErrnoException).code ?? "error",
    );
    assert.ok(["413", "ECONNRESET", "EPIPE"].includes(outcome), outcome);
    assert.equal((await review("after")).status, 200);
  });
});
