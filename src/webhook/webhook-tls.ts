// Where the webhook's serving certificate comes from (docs/webhook.md, "TLS"), two ways:
//   - CertDirSource (--tls-cert-dir): tls.crt and tls.key in a directory, as cert-manager's Secret
//     mounts them; read again every pollMs and handed on when they change (a Secret volume is
//     updated by a symlink swap, which inotify reports unreliably: polling the content is simpler
//     and certain).
//   - SelfManagedSource (the default, no cert-manager): the webhook is its own CA. The CA and the
//     serving certificate live in one Secret (so every replica serves the same one); the first
//     replica that finds it empty or expiring fills it, and the caBundle of the webhook's own
//     ValidatingWebhookConfiguration is set to the CA. Checked again every pollMs: a renewal made by
//     another replica is picked up, one due is made.
//
// Exported API:
//   interface TlsMaterial { certPem; keyPem }
//   interface TlsSource { load(): Promise<TlsMaterial>; watch(onChange): void; close(): void }
//   class CertDirSource, class SelfManagedSource
//   decideRenewal(stored, now, hosts): what to renew (pure; unit-tested)
import { createHash, createPrivateKey, X509Certificate } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import * as v from "valibot";
import { isAlreadyExists, isConflict, isNotFound } from "../k8s/kube-api-error.ts";
import type { KubeClient } from "../k8s/kube-client.ts";
import type { Logger } from "../util/logger.ts";
import { MultusError } from "../util/multus-error.ts";
import { createCertificateAuthority, issueServingCertificate, type PemPair } from "./webhook-certificates.ts";

export interface TlsMaterial {
  certPem: string;
  keyPem: string;
}

export interface TlsSource {
  /** The material to serve now; rejects when there is none (the webhook cannot start). */
  load(): Promise<TlsMaterial>;
  /** Calls onChange with new material when it changes (after load). */
  watch(onChange: (material: TlsMaterial) => void): void;
  close(): void;
}

const DAY_MS = 86_400_000;
/** Validity and renewal margins. The serving certificate is short-lived and renewed a month early; the CA outlives it by years. */
export const CERT_LIFETIME = { caDays: 3650, caRenewDays: 400, servingDays: 365, servingRenewDays: 30, backdateMs: 3_600_000 } as const;

/** A certificate and key that belong together, or a MultusError naming `where`. */
export function checkPair(material: TlsMaterial, where: string): X509Certificate {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(material.certPem);
  } catch (err) {
    throw new MultusError("MULTUS_ERR_CONFIG", `${where}: the certificate is not PEM X.509: ${(err as Error).message}`);
  }
  let matches: boolean;
  try {
    matches = cert.checkPrivateKey(createPrivateKey(material.keyPem));
  } catch (err) {
    throw new MultusError("MULTUS_ERR_CONFIG", `${where}: the private key cannot be read: ${(err as Error).message}`);
  }
  if (!matches) throw new MultusError("MULTUS_ERR_CONFIG", `${where}: the private key is not the certificate's`);
  return cert;
}

export class CertDirSource implements TlsSource {
  readonly #dir: string;
  readonly #pollMs: number;
  readonly #logger: Logger;
  #timer: NodeJS.Timeout | undefined;
  #fingerprint = "";

  constructor(dir: string, options: { pollMs?: number; logger: Logger }) {
    this.#dir = dir;
    this.#pollMs = options.pollMs ?? 30_000;
    this.#logger = options.logger;
  }

  async load(): Promise<TlsMaterial> {
    const read = (file: string): Promise<string> =>
      readFile(join(this.#dir, file), { encoding: "utf8", signal: AbortSignal.timeout(5_000) }).catch((err: unknown) => {
        throw new MultusError("MULTUS_ERR_CONFIG", `--tls-cert-dir ${this.#dir}: cannot read ${file}: ${(err as Error).message} (cert-manager's Secret, or any kubernetes.io/tls Secret, mounted there has it)`);
      });
    const material = { certPem: await read("tls.crt"), keyPem: await read("tls.key") };
    checkPair(material, `--tls-cert-dir ${this.#dir}`);
    this.#fingerprint = fingerprint(material);
    return material;
  }

  watch(onChange: (material: TlsMaterial) => void): void {
    this.#timer = setInterval(() => {
      const before = this.#fingerprint;
      void this.load().then(
        (material) => {
          if (this.#fingerprint !== before) {
            this.#logger.info({ dir: this.#dir }, "serving certificate reloaded");
            onChange(material);
          }
        },
        // Mid-swap, or a bad renewal: keep serving the certificate we have.
        (err: unknown) => {
          this.#fingerprint = before;
          this.#logger.warn({ dir: this.#dir, err: (err as Error).message }, "serving certificate not reloaded");
        },
      );
    }, this.#pollMs);
    this.#timer.unref();
  }

  close(): void {
    clearInterval(this.#timer);
  }
}

function fingerprint(m: TlsMaterial): string {
  return createHash("sha256").update(m.certPem).update("\0").update(m.keyPem).digest("hex");
}

/** The Secret's keys: a kubernetes.io/tls layout plus the CA's own pair. */
export interface StoredCertificates {
  ca?: PemPair;
  /** Every CA the apiserver should trust: the current one first, then a replaced one until it expires. */
  caBundlePem?: string;
  serving?: PemPair;
}

export type Renewal = { kind: "none" } | { kind: "serving"; reason: string } | { kind: "ca"; reason: string };

/** What must be made anew, and why (for the log). */
export function decideRenewal(stored: StoredCertificates, now: Date, hosts: readonly string[]): Renewal {
  if (stored.ca === undefined) return { kind: "ca", reason: "no CA stored" };
  let ca: X509Certificate;
  try {
    ca = checkPair(stored.ca, "the stored CA");
  } catch (err) {
    return { kind: "ca", reason: (err as Error).message };
  }
  if (Date.parse(ca.validTo) - now.getTime() < CERT_LIFETIME.caRenewDays * DAY_MS) return { kind: "ca", reason: `the CA expires ${ca.validTo}` };
  if (stored.serving === undefined) return { kind: "serving", reason: "no serving certificate stored" };
  let serving: X509Certificate;
  try {
    serving = checkPair(stored.serving, "the stored serving certificate");
  } catch (err) {
    return { kind: "serving", reason: (err as Error).message };
  }
  if (!serving.verify(ca.publicKey)) return { kind: "serving", reason: "the serving certificate is not signed by the stored CA" };
  if (Date.parse(serving.validTo) - now.getTime() < CERT_LIFETIME.servingRenewDays * DAY_MS) return { kind: "serving", reason: `the serving certificate expires ${serving.validTo}` };
  const missing = hosts.filter((h) => !coversHost(serving, h));
  if (missing.length > 0) return { kind: "serving", reason: `the serving certificate does not name ${missing.join(", ")}` };
  return { kind: "none" };
}

function coversHost(cert: X509Certificate, host: string): boolean {
  return /^[\d.]+$|:/.test(host) ? cert.checkIP(host) !== undefined : cert.checkHost(host, { subject: "never", wildcards: false }) !== undefined;
}

/** Makes what decideRenewal asks for; the rest of `stored` is kept. */
export function renew(stored: StoredCertificates, renewal: Renewal, now: Date, hosts: readonly string[], names: { ca: string; serving: string }): StoredCertificates {
  if (renewal.kind === "none") return stored;
  const notBefore = new Date(now.getTime() - CERT_LIFETIME.backdateMs); // clocks of other nodes lag
  let ca = stored.ca;
  let caBundlePem = stored.caBundlePem ?? stored.ca?.certPem ?? "";
  if (renewal.kind === "ca" || ca === undefined) {
    ca = createCertificateAuthority({ commonName: names.ca, notBefore, notAfter: new Date(now.getTime() + CERT_LIFETIME.caDays * DAY_MS) });
    // The old CA stays trusted while it is valid: replicas still serving its certificate keep working.
    caBundlePem = ca.certPem + stillValid(stored.ca?.certPem, now);
  }
  const caNotAfter = Date.parse(new X509Certificate(ca.certPem).validTo);
  const serving = issueServingCertificate({
    commonName: names.serving,
    hosts,
    ca,
    notBefore,
    notAfter: new Date(Math.min(now.getTime() + CERT_LIFETIME.servingDays * DAY_MS, caNotAfter)),
  });
  return { ca, caBundlePem, serving };
}

function stillValid(pem: string | undefined, now: Date): string {
  if (pem === undefined) return "";
  try {
    return Date.parse(new X509Certificate(pem).validTo) > now.getTime() ? pem : "";
  } catch {
    return "";
  }
}

const SecretSchema = v.looseObject({
  metadata: v.looseObject({ resourceVersion: v.optional(v.string()) }),
  data: v.optional(v.nullable(v.record(v.string(), v.string()))),
});

const SECRET_KEYS = { caCert: "ca.crt", caKey: "ca.key", cert: "tls.crt", key: "tls.key" } as const;

function decodeStored(data: Record<string, string>): StoredCertificates {
  const text = (k: string): string | undefined => (data[k] === undefined ? undefined : Buffer.from(data[k], "base64").toString("utf8"));
  const caBundlePem = text(SECRET_KEYS.caCert);
  const caKey = text(SECRET_KEYS.caKey);
  const cert = text(SECRET_KEYS.cert);
  const key = text(SECRET_KEYS.key);
  // The bundle's first certificate is the CA that signs.
  const caCert = caBundlePem?.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----\n?/)?.[0];
  const stored: StoredCertificates = {};
  if (caCert !== undefined && caKey !== undefined) stored.ca = { certPem: caCert, keyPem: caKey };
  if (caBundlePem !== undefined) stored.caBundlePem = caBundlePem;
  if (cert !== undefined && key !== undefined) stored.serving = { certPem: cert, keyPem: key };
  return stored;
}

function encodeStored(s: StoredCertificates): Record<string, string> {
  const b64 = (t: string): string => Buffer.from(t, "utf8").toString("base64");
  if (s.ca === undefined || s.serving === undefined) throw new Error("encodeStored: incomplete certificates");
  return {
    [SECRET_KEYS.caCert]: b64(s.caBundlePem ?? s.ca.certPem),
    [SECRET_KEYS.caKey]: b64(s.ca.keyPem),
    [SECRET_KEYS.cert]: b64(s.serving.certPem),
    [SECRET_KEYS.key]: b64(s.serving.keyPem),
  };
}

export interface SelfManagedOptions {
  client: KubeClient;
  /** Where the Secret lives (the webhook's namespace). */
  namespace: string;
  secretName: string;
  /** The ValidatingWebhookConfiguration whose caBundle to keep set; "" = none (a test registers its own). */
  webhookConfigName: string;
  /** DNS names / IPs the serving certificate must name. */
  hosts: readonly string[];
  logger: Logger;
  pollMs?: number;
  now?: () => Date;
}

const WebhookConfigSchema = v.looseObject({
  webhooks: v.optional(v.nullable(v.array(v.looseObject({ name: v.string(), clientConfig: v.looseObject({ caBundle: v.optional(v.string()) }) })))),
});

export class SelfManagedSource implements TlsSource {
  readonly #o: SelfManagedOptions;
  readonly #now: () => Date;
  #timer: NodeJS.Timeout | undefined;
  #fingerprint = "";

  constructor(options: SelfManagedOptions) {
    this.#o = options;
    this.#now = options.now ?? (() => new Date());
  }

  get #secretPath(): string {
    return `/api/v1/namespaces/${encodeURIComponent(this.#o.namespace)}/secrets/${encodeURIComponent(this.#o.secretName)}`;
  }

  /** Reads the Secret, renews what is due (create or update, racing replicas settle by resourceVersion), sets the caBundle. */
  async load(): Promise<TlsMaterial> {
    const where = `Secret ${this.#o.namespace}/${this.#o.secretName}`;
    for (let attempt = 1; ; attempt++) {
      let stored: StoredCertificates = {};
      let resourceVersion: string | undefined;
      try {
        const secret = await this.#o.client.get(this.#secretPath, { decode: (x) => v.parse(SecretSchema, x) });
        stored = decodeStored(secret.data ?? {});
        resourceVersion = secret.metadata.resourceVersion;
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
      const now = this.#now();
      const renewal = decideRenewal(stored, now, this.#o.hosts);
      if (renewal.kind !== "none") {
        this.#o.logger.info({ secret: where, renew: renewal.kind, reason: renewal.reason }, "renewing the webhook's certificates");
        stored = renew(stored, renewal, now, this.#o.hosts, { ca: `${this.#o.secretName}-ca`, serving: this.#o.hosts[0] ?? this.#o.secretName });
        try {
          await this.#store(stored, resourceVersion);
        } catch (err) {
          // Another replica wrote first: serve what it wrote.
          if ((isConflict(err) || isAlreadyExists(err)) && attempt < 3) continue;
          throw err;
        }
      }
      if (stored.serving === undefined || stored.ca === undefined) throw new MultusError("MULTUS_ERR_CONFIG", `${where}: no certificates after renewal`);
      if (this.#o.webhookConfigName !== "") await this.#setCaBundle(stored.caBundlePem ?? stored.ca.certPem);
      this.#fingerprint = fingerprint(stored.serving);
      return stored.serving;
    }
  }

  async #store(stored: StoredCertificates, resourceVersion: string | undefined): Promise<void> {
    const data = encodeStored(stored);
    if (resourceVersion === undefined) {
      await this.#o.client.create(`/api/v1/namespaces/${encodeURIComponent(this.#o.namespace)}/secrets`, {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: this.#o.secretName, namespace: this.#o.namespace, labels: { "app.kubernetes.io/name": "multus-ts", "app.kubernetes.io/component": "webhook" } },
        type: "Opaque",
        data,
      }, { ignoreResponse: true });
    } else {
      // resourceVersion in a merge patch makes it conditional: a concurrent writer gets 409.
      await this.#o.client.patch(this.#secretPath, { metadata: { resourceVersion }, data }, "merge", { ignoreResponse: true });
    }
  }

  async #setCaBundle(bundlePem: string): Promise<void> {
    const path = `/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/${encodeURIComponent(this.#o.webhookConfigName)}`;
    const config = await this.#o.client.get(path, { decode: (x) => v.parse(WebhookConfigSchema, x) });
    const caBundle = Buffer.from(bundlePem, "utf8").toString("base64");
    const ops = (config.webhooks ?? []).flatMap((w, i) =>
      w.clientConfig.caBundle === caBundle
        ? []
        : [
            // The test makes the patch fail rather than set another webhook's bundle if the list moved.
            { op: "test", path: `/webhooks/${i}/name`, value: w.name },
            { op: "add", path: `/webhooks/${i}/clientConfig/caBundle`, value: caBundle },
          ],
    );
    if (ops.length === 0) return;
    await this.#o.client.patch(path, ops, "json", { ignoreResponse: true });
    this.#o.logger.info({ webhookConfiguration: this.#o.webhookConfigName }, "caBundle set");
  }

  watch(onChange: (material: TlsMaterial) => void): void {
    this.#timer = setInterval(() => {
      const before = this.#fingerprint;
      void this.load().then(
        (material) => {
          if (this.#fingerprint !== before) onChange(material);
        },
        (err: unknown) => {
          this.#logger().warn({ err: (err as Error).message }, "certificate check failed; serving the current certificate");
        },
      );
    }, this.#o.pollMs ?? 3_600_000);
    this.#timer.unref();
  }

  #logger(): Logger {
    return this.#o.logger;
  }

  close(): void {
    clearInterval(this.#timer);
  }
}
