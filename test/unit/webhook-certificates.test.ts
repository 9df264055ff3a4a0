// The webhook's own CA (src/webhook/webhook-certificates.ts, asn1-der.ts, webhook-tls.ts): DER
// encodings against X.690's examples, the certificates against a real TLS client (node:tls with the
// generated CA as its only root, checking the Service's host name, as the kube-apiserver does), and
// openssl's reading of them when openssl is installed; the renewal rules.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { once } from "node:events";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, createServer } from "node:tls";
import { describe, test } from "node:test";
import { namedBits, oid, smallInteger, time, unsignedInteger } from "../../src/webhook/asn1-der.ts";
import { createCertificateAuthority, issueServingCertificate, serviceHostNames, type PemPair } from "../../src/webhook/webhook-certificates.ts";
import { CERT_LIFETIME, decideRenewal, renew } from "../../src/webhook/webhook-tls.ts";

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
const DAY = 86_400_000;
// The real clock: the TLS client and openssl check validity against it.
const now = new Date();
const HOSTS = serviceHostNames("multus-webhook", "kube-system");

function makeCa(at = now, days = 3650): PemPair {
  return createCertificateAuthority({ commonName: "multus-webhook-tls-ca", notBefore: new Date(at.getTime() - 3_600_000), notAfter: new Date(at.getTime() + days * DAY) });
}

function makeServing(ca: PemPair, hosts: readonly string[] = HOSTS, at = now, days = 365): PemPair {
  return issueServingCertificate({ commonName: "multus-webhook", hosts, ca, notBefore: new Date(at.getTime() - 3_600_000), notAfter: new Date(at.getTime() + days * DAY) });
}

describe("DER encoder", () => {
  test("object identifiers as X.690 §8.19 encodes them", () => {
    assert.equal(hex(oid("1.2.840.10045.4.3.2")), "06082a8648ce3d040302"); // ecdsa-with-SHA256
    assert.equal(hex(oid("2.5.29.17")), "0603551d11");
    assert.throws(() => oid("1.40"), RangeError);
  });
  test("integers stay positive and minimal", () => {
    assert.equal(hex(smallInteger(0)), "020100");
    assert.equal(hex(smallInteger(2)), "020102");
    assert.equal(hex(smallInteger(128)), "02020080");
    assert.equal(hex(unsignedInteger(Uint8Array.of(0, 0, 0x7f))), "02017f");
    assert.equal(hex(unsignedInteger(Uint8Array.of(0xff, 1))), "020300ff01");
  });
  test("named bits drop trailing zeros (KeyUsage)", () => {
    assert.equal(hex(namedBits([0])), "03020780"); // digitalSignature
    assert.equal(hex(namedBits([0, 5, 6])), "03020186"); // + keyCertSign, cRLSign
  });
  test("times: UTCTime through 2049, GeneralizedTime from 2050 (RFC 5280 §4.1.2.5)", () => {
    assert.equal(Buffer.from(time(new Date("2049-12-31T23:59:59Z"))).toString("latin1"), "\x17\x0d491231235959Z");
    assert.equal(Buffer.from(time(new Date("2050-01-01T00:00:00Z"))).toString("latin1"), "\x18\x0f20500101000000Z");
  });
});

describe("self-signed CA and serving certificate", () => {
  const ca = makeCa();
  const serving = makeServing(ca, [...HOSTS, "127.0.0.1", "::1"]);

  test("the CA is a CA, self-signed; the serving certificate is signed by it, for the Service's names", () => {
    const caCert = new X509Certificate(ca.certPem);
    const leaf = new X509Certificate(serving.certPem);
    assert.equal(caCert.ca, true);
    assert.ok(caCert.verify(caCert.publicKey));
    assert.equal(leaf.ca, false);
    assert.ok(leaf.verify(caCert.publicKey));
    assert.ok(leaf.checkIssued(caCert));
    assert.equal(leaf.checkHost("multus-webhook.kube-system.svc", { subject: "never" }), "multus-webhook.kube-system.svc");
    assert.equal(leaf.checkHost("other.kube-system.svc", { subject: "never" }), undefined);
    assert.equal(leaf.checkIP("127.0.0.1"), "127.0.0.1");
    assert.equal(leaf.checkIP("::1"), "::1");
    assert.deepEqual(leaf.keyUsage, ["1.3.6.1.5.5.7.3.1"]);
  });

  test("a TLS client with the CA as its only root accepts multus-webhook.kube-system.svc and refuses another name", async () => {
    const server = createServer({ cert: serving.certPem, key: serving.keyPem }, (socket) => {
      socket.end("hello\n");
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const { port } = server.address() as AddressInfo;
    const handshake = (servername: string): Promise<string> =>
      new Promise((resolve, reject) => {
        const socket = connect({ host: "127.0.0.1", port, ca: [ca.certPem], servername }, () => {
          socket.setEncoding("utf8");
          socket.once("data", (d: string) => {
            socket.end();
            resolve(d.trim());
          });
        });
        socket.once("error", reject);
        socket.setTimeout(5_000, () => socket.destroy(new Error("no TLS answer within 5 s")));
      });
    try {
      assert.equal(await handshake("multus-webhook.kube-system.svc"), "hello");
      await assert.rejects(handshake("multus-webhook.other.svc"), /ERR_TLS_CERT_ALTNAME_INVALID|does not match|not in the cert's altnames/);
      // Another CA's certificate for the same names is not trusted.
      const stranger = makeServing(makeCa());
      server.setSecureContext({ cert: stranger.certPem, key: stranger.keyPem });
      await assert.rejects(handshake("multus-webhook.kube-system.svc"), /signature|self-signed|unable to verify|UNABLE_TO_VERIFY/i);
    } finally {
      server.close();
    }
  });

  // openssl is one of scripts/setup.sh's packages: without it this test fails rather than skips.
  test("openssl reads both and verifies the chain", (t) => {
    const version = execFileSync("openssl", ["version"], { encoding: "utf8", timeout: 10_000 });
    t.diagnostic(version.trim());
    const dir = mkdtempSync(join(tmpdir(), "webhook-certs-"));
    try {
      writeFileSync(join(dir, "ca.crt"), ca.certPem);
      writeFileSync(join(dir, "tls.crt"), serving.certPem);
      const text = execFileSync("openssl", ["x509", "-in", join(dir, "tls.crt"), "-noout", "-text"], { encoding: "utf8", timeout: 10_000 });
      assert.match(text, /Version: 3/);
      assert.match(text, /Signature Algorithm: ecdsa-with-SHA256/);
      assert.match(text, /DNS:multus-webhook\.kube-system\.svc,/);
      assert.match(text, /IP Address:127\.0\.0\.1/);
      assert.match(text, /CA:FALSE/);
      assert.match(text, /TLS Web Server Authentication/);
      const caText = execFileSync("openssl", ["x509", "-in", join(dir, "ca.crt"), "-noout", "-text"], { encoding: "utf8", timeout: 10_000 });
      assert.match(caText, /CA:TRUE, pathlen:0/);
      assert.match(caText, /Certificate Sign/);
      const verified = execFileSync("openssl", ["verify", "-CAfile", join(dir, "ca.crt"), join(dir, "tls.crt")], { encoding: "utf8", timeout: 10_000 });
      assert.match(verified, /: OK/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("renewal", () => {
  const names = { ca: "multus-webhook-tls-ca", serving: "multus-webhook" };

  test("nothing stored: a CA and a serving certificate are made", () => {
    const r = decideRenewal({}, now, HOSTS);
    assert.equal(r.kind, "ca");
    const made = renew({}, r, now, HOSTS, names);
    assert.equal(decideRenewal(made, now, HOSTS).kind, "none");
    assert.equal(made.caBundlePem, made.ca?.certPem);
  });

  test("a serving certificate within 30 days of its end is renewed by the same CA; the bundle does not change", () => {
    const ca = makeCa();
    const stored = { ca, caBundlePem: ca.certPem, serving: makeServing(ca, HOSTS, now, CERT_LIFETIME.servingRenewDays - 1) };
    const r = decideRenewal(stored, now, HOSTS);
    assert.equal(r.kind, "serving");
    const made = renew(stored, r, now, HOSTS, names);
    assert.equal(made.ca, ca);
    assert.equal(made.caBundlePem, ca.certPem);
    assert.equal(decideRenewal(made, now, HOSTS).kind, "none");
  });

  test("a certificate without a name the webhook now needs is renewed", () => {
    const ca = makeCa();
    const r = decideRenewal({ ca, serving: makeServing(ca, ["multus-webhook"]) }, now, HOSTS);
    assert.deepEqual(r.kind, "serving");
    assert.match("reason" in r ? r.reason : "", /multus-webhook\.kube-system/);
  });

  test("a serving certificate of another CA, or a key that is not the certificate's, is renewed", () => {
    const ca = makeCa();
    assert.equal(decideRenewal({ ca, serving: makeServing(makeCa()) }, now, HOSTS).kind, "serving");
    const a = makeServing(ca);
    const b = makeServing(ca);
    assert.equal(decideRenewal({ ca, serving: { certPem: a.certPem, keyPem: b.keyPem } }, now, HOSTS).kind, "serving");
  });

  test("a CA near its end is replaced, and the old one stays in the bundle while it is valid", () => {
    const old = makeCa(now, CERT_LIFETIME.caRenewDays - 1);
    const stored = { ca: old, caBundlePem: old.certPem, serving: makeServing(old) };
    const r = decideRenewal(stored, now, HOSTS);
    assert.equal(r.kind, "ca");
    const made = renew(stored, r, now, HOSTS, names);
    assert.notEqual(made.ca?.certPem, old.certPem);
    assert.equal(made.caBundlePem, `${made.ca?.certPem ?? ""}${old.certPem}`);
    assert.ok(new X509Certificate(made.serving?.certPem ?? "").verify(new X509Certificate(made.ca?.certPem ?? "").publicKey));
  });
});
