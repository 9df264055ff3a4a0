// The webhook's own certificate authority, for clusters without cert-manager: a self-signed CA and a
// serving certificate it signs, both ECDSA P-256 with SHA-256 (RFC 5480, RFC 5758), built with the DER
// encoder next door and signed by node:crypto. The kube-apiserver trusts the CA through the caBundle
// of the ValidatingWebhookConfiguration and checks the serving certificate's DNS names against the
// Service's name (it never looks at the subject's common name, hence the SANs).
import { createHash, createPrivateKey, generateKeyPairSync, randomBytes, sign, X509Certificate, type KeyObject } from "node:crypto";
import { isIP } from "node:net";
import {
  bitString,
  boolean,
  explicit,
  ia5Octets,
  implicitPrimitive,
  namedBits,
  octetString,
  oid,
  sequence,
  set,
  smallInteger,
  time,
  unsignedInteger,
  utf8String,
  type Der,
} from "./asn1-der.ts";

const OID = {
  ecdsaWithSha256: "1.2.840.10045.4.3.2",
  commonName: "2.5.4.3",
  organization: "2.5.4.10",
  subjectKeyIdentifier: "2.5.29.14",
  keyUsage: "2.5.29.15",
  subjectAltName: "2.5.29.17",
  basicConstraints: "2.5.29.19",
  authorityKeyIdentifier: "2.5.29.35",
  extKeyUsage: "2.5.29.37",
  serverAuth: "1.3.6.1.5.5.7.3.1",
} as const;

/** RFC 5280 §4.2.1.3 bit numbers. */
const KEY_USAGE = { digitalSignature: 0, keyCertSign: 5, cRLSign: 6 } as const;

/** A certificate and its private key, both PEM. */
export interface PemPair {
  certPem: string;
  keyPem: string;
}

export interface CertificateOptions {
  /** The subject's common name (informational: clients match SANs). */
  commonName: string;
  notBefore: Date;
  notAfter: Date;
}

export interface ServingCertificateOptions extends CertificateOptions {
  /** DNS names and IP addresses the certificate is valid for (subjectAltName). */
  hosts: readonly string[];
  /** The issuing CA. */
  ca: PemPair;
}

function algorithmIdentifier(): Der {
  // RFC 5758 §3.2: the ECDSA signature algorithms have no parameters (absent, not NULL).
  return sequence(oid(OID.ecdsaWithSha256));
}

function name(commonName: string): Der {
  return sequence(set(sequence(oid(OID.organization), utf8String("multus-ts"))), set(sequence(oid(OID.commonName), utf8String(commonName))));
}

function extension(id: string, critical: boolean, value: Der): Der {
  return critical ? sequence(oid(id), boolean(true), octetString(value)) : sequence(oid(id), octetString(value));
}

/** RFC 5280 §4.2.1.2 method (1): SHA-1 of the subjectPublicKey bits. */
function keyIdentifier(publicKey: KeyObject): Uint8Array {
  const spki = publicKey.export({ type: "spki", format: "der" });
  // A P-256 SPKI ends with the 65-octet uncompressed point; the BIT STRING's content is those octets.
  return createHash("sha1").update(spki.subarray(spki.length - 65)).digest();
}

function ipOctets(address: string): Uint8Array {
  if (isIP(address) === 4) return Uint8Array.from(address.split(".").map(Number));
  // IPv6: expand "::" and write eight 16-bit groups.
  const [head = "", tail = ""] = address.split("::");
  const h = head === "" ? [] : head.split(":");
  const t = address.includes("::") ? (tail === "" ? [] : tail.split(":")) : [];
  const groups = address.includes("::") ? [...h, ...Array<string>(8 - h.length - t.length).fill("0"), ...t] : h;
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    const n = parseInt(g, 16);
    out[i * 2] = n >> 8;
    out[i * 2 + 1] = n & 0xff;
  });
  return out;
}

function subjectAltNames(hosts: readonly string[]): Der {
  // GeneralName: dNSName [2] IA5String, iPAddress [7] OCTET STRING (RFC 5280 §4.2.1.6).
  return sequence(...hosts.map((h) => (isIP(h) === 0 ? implicitPrimitive(2, ia5Octets(h)) : implicitPrimitive(7, ipOctets(h)))));
}

function serialNumber(): Der {
  // RFC 5280 §4.1.2.2: positive, at most 20 octets; 16 random octets (unsignedInteger keeps it positive).
  return unsignedInteger(randomBytes(16));
}

function toPem(der: Uint8Array, label: string): string {
  const b64 = Buffer.from(der).toString("base64");
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

function newKey(): { privateKey: KeyObject; publicKey: KeyObject } {
  return generateKeyPairSync("ec", { namedCurve: "prime256v1" });
}

function signCertificate(tbs: Der, issuerKey: KeyObject): string {
  const signature = sign("sha256", tbs, { key: issuerKey, dsaEncoding: "der" });
  return toPem(sequence(tbs, algorithmIdentifier(), bitString(signature)), "CERTIFICATE");
}

function tbsCertificate(o: CertificateOptions & { issuer: string; subjectKey: KeyObject; extensions: Der[] }): Der {
  const spki = o.subjectKey.export({ type: "spki", format: "der" });
  return sequence(
    explicit(0, smallInteger(2)), // v3
    serialNumber(),
    algorithmIdentifier(),
    name(o.issuer),
    sequence(time(o.notBefore), time(o.notAfter)),
    name(o.commonName),
    spki,
    explicit(3, sequence(...o.extensions)),
  );
}

/** A self-signed CA that may sign end-entity certificates only (pathLenConstraint 0). */
export function createCertificateAuthority(options: CertificateOptions): PemPair {
  const { privateKey, publicKey } = newKey();
  const keyId = keyIdentifier(publicKey);
  const tbs = tbsCertificate({
    ...options,
    issuer: options.commonName,
    subjectKey: publicKey,
    extensions: [
      extension(OID.basicConstraints, true, sequence(boolean(true), smallInteger(0))),
      extension(OID.keyUsage, true, namedBits([KEY_USAGE.digitalSignature, KEY_USAGE.keyCertSign, KEY_USAGE.cRLSign])),
      extension(OID.subjectKeyIdentifier, false, octetString(keyId)),
    ],
  });
  return { certPem: signCertificate(tbs, privateKey), keyPem: String(privateKey.export({ type: "pkcs8", format: "pem" })) };
}

/** A TLS server certificate for `hosts`, signed by `ca`. */
export function issueServingCertificate(options: ServingCertificateOptions): PemPair {
  if (options.hosts.length === 0) throw new RangeError("a serving certificate needs at least one host name");
  const caCert = new X509Certificate(options.ca.certPem);
  const caKey = createPrivateKey(options.ca.keyPem);
  const { privateKey, publicKey } = newKey();
  const tbs = tbsCertificate({
    ...options,
    issuer: caCert.subject.split("\n").find((l) => l.startsWith("CN="))?.slice(3) ?? "",
    subjectKey: publicKey,
    extensions: [
      extension(OID.basicConstraints, true, sequence()),
      // ECDHE key exchange with an ECDSA key needs only digitalSignature (RFC 8446 §4.4.2.2).
      extension(OID.keyUsage, true, namedBits([KEY_USAGE.digitalSignature])),
      extension(OID.extKeyUsage, false, sequence(oid(OID.serverAuth))),
      extension(OID.subjectAltName, false, subjectAltNames(options.hosts)),
      extension(OID.subjectKeyIdentifier, false, octetString(keyIdentifier(publicKey))),
      extension(OID.authorityKeyIdentifier, false, sequence(implicitPrimitive(0, keyIdentifier(caCert.publicKey)))),
    ],
  });
  return { certPem: signCertificate(tbs, caKey), keyPem: String(privateKey.export({ type: "pkcs8", format: "pem" })) };
}

/** The DNS names a Service answers to inside the cluster, most specific last. */
export function serviceHostNames(service: string, namespace: string, clusterDomain = "cluster.local"): string[] {
  return [service, `${service}.${namespace}`, `${service}.${namespace}.svc`, `${service}.${namespace}.svc.${clusterDomain}`];
}
