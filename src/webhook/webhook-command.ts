// multusctl webhook serve: the NetworkAttachmentDefinition admission webhook (docs/webhook.md). Runs
// until SIGTERM or SIGINT, then stops taking connections, finishes the reviews in flight and returns 0.
//
//   multusctl [--config daemon-config.json] webhook serve [--listen HOST:PORT]
//             [--tls-cert-dir DIR | --secret-name NAME --webhook-config-name NAME --service-name NAME]
//
// The config (--config) is the daemon-config.json of the ConfigMap the daemons read (its thin keys:
// delegatePolicy, multusNamespace, legacyNetworks, … decide as they do on the nodes), or a Multus
// config file; without --config the node's, as for every verb.
import { existsSync } from "node:fs";
import type { CliContext } from "../cli/cli-context.ts";
import { UsageError } from "../cli/cli-error.ts";
import { parseVerbArgs, type VerbSpec } from "../cli/verb.ts";
import { parseMultusConfig, type MultusConfig } from "../multus/multus-config.ts";
import { createLogger, type Logger } from "../util/logger.ts";
import { serviceHostNames } from "./webhook-certificates.ts";
import { admitNetworkObject } from "./network-admission.ts";
import { WebhookServer } from "./webhook-server.ts";
import { CertDirSource, SelfManagedSource, type TlsSource } from "./webhook-tls.ts";

export const spec: VerbSpec = {
  name: "webhook",
  summary: "Serve the validating admission webhook for NetworkAttachmentDefinitions (and legacy Network objects)",
  usage: [
    "webhook serve [--listen HOST:PORT] --tls-cert-dir DIR          (cert-manager, or any mounted kubernetes.io/tls Secret)",
    "webhook serve [--listen HOST:PORT] [--secret-name NAME] [--webhook-config-name NAME] [--service-name NAME]   (its own CA)",
  ],
  options: {
    listen: { type: "string", description: "address to serve HTTPS on (default :8443)" },
    "tls-cert-dir": { type: "string", description: "directory with tls.crt and tls.key, re-read when they change" },
    "secret-name": { type: "string", description: "without --tls-cert-dir: the Secret holding the webhook's own CA and certificate (default multus-webhook-tls)" },
    "webhook-config-name": { type: "string", description: "the ValidatingWebhookConfiguration whose caBundle to set (default multus-webhook; \"\" for none)" },
    "service-name": { type: "string", description: "the Service in front of the webhook: the certificate names it (default multus-webhook)" },
    "tls-hosts": { type: "string", description: "more DNS names or IPs for the certificate, comma-separated" },
  },
  subcommands: ["serve"],
};

/**
 * The config the webhook decides with: --config's (the daemons' daemon-config.json, read by the
 * daemon's own reader, or a Multus config), else the node's. A --config file that does not exist is
 * not an error here: deploy/webhook mounts the daemons' ConfigMap as optional, and a thin install has
 * none, so the defaults apply (with a warning).
 */
export async function loadWebhookConfig(ctx: CliContext): Promise<{ config: MultusConfig; source: string }> {
  const path = ctx.globals.config;
  if (path !== undefined && !existsSync(path)) {
    ctx.warn(`the config ${path} does not exist: the defaults apply (delegatePolicy, multusNamespace, legacyNetworks)`);
    const base = { cniVersion: "1.0.0", name: "multus-cni-network", type: "multus", clusterNetwork: "(the webhook runs no network)" };
    return { config: parseMultusConfig(base, "defaults"), source: "defaults" };
  }
  const node = await ctx.multusConfig();
  return { config: node.config, source: node.source };
}

function parseListen(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(text);
  const port = Number(m?.[3]);
  if (m === null || port > 65535) throw new UsageError(`webhook: --listen must be HOST:PORT or :PORT, not ${JSON.stringify(text)}`);
  const host = m[1] ?? m[2] ?? "";
  return { host: host === "" ? "0.0.0.0" : host, port };
}

export async function run(args: string[], ctx: CliContext): Promise<number> {
  const parsed = parseVerbArgs(spec, args, ctx);
  if (parsed === undefined) return 0;
  if (parsed.positionals[0] !== "serve" || parsed.positionals.length !== 1) throw new UsageError("webhook: the one subcommand is serve (see multusctl webhook --help)");
  const o = parsed.strings;
  const listen = parseListen(o["listen"] ?? ":8443");
  const { config, source } = await loadWebhookConfig(ctx);
  const logger: Logger = createLogger({ level: config.logLevel === "debug" ? "debug" : "verbose", component: "multus-webhook", stderr: (line) => { ctx.io.stderr(line); } });
  logger.info({ config: source, legacyNetworks: config.legacyNetworks, trustedNamespaces: config.delegatePolicy.trustedNamespaces }, "config loaded");
  const tls = await tlsSource(o, ctx, logger);
  const server = new WebhookServer({ ...listen, tls, logger, admit: (request) => admitNetworkObject(request, config) });
  const address = await server.start();
  logger.info({ address: address.address, port: address.port }, "serving");
  const signal = await new Promise<string>((resolve) => {
    for (const s of ["SIGTERM", "SIGINT"] as const) process.once(s, () => { resolve(s); });
  });
  logger.info({ signal }, "shutting down");
  await server.stop();
  return 0;
}

async function tlsSource(o: Readonly<Record<string, string | undefined>>, ctx: CliContext, logger: Logger): Promise<TlsSource> {
  const dir = o["tls-cert-dir"];
  const selfManaged = ["secret-name", "webhook-config-name", "service-name"].filter((k) => o[k] !== undefined);
  if (dir !== undefined) {
    if (selfManaged.length > 0) throw new UsageError(`webhook: --tls-cert-dir and --${selfManaged.join(", --")} exclude each other (a mounted certificate, or the webhook's own)`);
    return new CertDirSource(dir, { logger });
  }
  const kube = await ctx.kube();
  const service = o["service-name"] ?? "multus-webhook";
  const extra = (o["tls-hosts"] ?? "").split(",").map((h) => h.trim()).filter((h) => h !== "");
  return new SelfManagedSource({
    client: kube.client,
    namespace: kube.namespace,
    secretName: o["secret-name"] ?? "multus-webhook-tls",
    webhookConfigName: o["webhook-config-name"] ?? "multus-webhook",
    hosts: [...serviceHostNames(service, kube.namespace), ...extra],
    logger,
  });
}
