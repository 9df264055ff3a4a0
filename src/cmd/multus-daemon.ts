// multus-daemon: the thick-mode daemon (one per node). Usage: multus-daemon [--config <daemon-config.json>]
// (default /etc/cni/net.d/multus.d/daemon-config.json). See src/daemon/daemon.ts.
import { parseArgs } from "node:util";
import { toCniError } from "../cni/cni-error.ts";
import { DEFAULT_DAEMON_CONFIG, loadDaemonConfig } from "../daemon/daemon-config.ts";
import { startDaemon } from "../daemon/daemon.ts";

const VERSION = "multus-ts 0.1.0";

function main(): void {
  const { values } = parseArgs({ options: { config: { type: "string" }, version: { type: "boolean" } }, strict: true });
  if (values.version === true) {
    process.stdout.write(`multus-daemon: ${VERSION}\n`);
    return;
  }
  const config = loadDaemonConfig(values.config ?? DEFAULT_DAEMON_CONFIG);
  void startDaemon(config).then(
    (daemon) => {
      for (const signal of ["SIGTERM", "SIGINT"] as const) {
        process.on(signal, () => {
          void daemon.shutdown(signal);
        });
      }
      void daemon.done.then(() => {
        process.exitCode = 0;
        // Nothing may keep a stopped daemon alive (a lingering keep-alive socket, a timer).
        setTimeout(() => process.exit(0), 1000).unref();
      });
    },
    (err: unknown) => {
      // Whatever started before the failure (informers, the socket) must not keep a half-started
      // daemon alive: it exits, and the DaemonSet's restart policy shows the problem.
      process.stderr.write(`multus-daemon: ${toCniError(err).message}\n`);
      process.exit(1);
    },
  );
}

// No top-level await: SEA runs a CommonJS bundle.
try {
  main();
} catch (err) {
  process.stderr.write(`multus-daemon: ${toCniError(err).message}\n`);
  process.exitCode = 1;
}
