// Makes the test control plane (kube-apiserver on the machine's 127.0.0.1) reachable at the same
// address from inside a throw-away node namespace, without touching the root namespace's network:
// the root side listens on a unix socket (file-system sockets cross network namespaces) and dials the
// API; a small forwarder started inside the node namespace listens on its own 127.0.0.1:<port> and
// dials that unix socket. Everything stays on loopback; both ends stop with stop().
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { rm } from "node:fs/promises";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execInNetns } from "./netns.ts";

export interface ApiBridge {
  /**
   * From now on, bytes clients send are held back (counted, not forwarded): a request in flight or
   * started later blocks, as behind a stalled API server. Tests use it to catch multus inside an API
   * call (the network-status patch) and kill it there.
   */
  hold(): void;
  /** Bytes received from clients while held (> 0: a request was started). */
  heldBytes(): number;
  /** Forward again (what was held is dropped: its connections are useless, their client is gone). */
  release(): void;
  stop(): Promise<void>;
}

const FORWARDER = `
const net = require("node:net");
const [port, sock] = process.argv.slice(1);
const server = net.createServer((c) => {
  const u = net.createConnection(sock);
  c.pipe(u).pipe(c);
  c.on("error", () => u.destroy());
  u.on("error", () => c.destroy());
});
server.listen(Number(port), "127.0.0.1", () => process.stdout.write("ready\\n"));
`;

export async function startApiBridge(nodeNs: string, port: number): Promise<ApiBridge> {
  await execInNetns(nodeNs, ["ip", "link", "set", "lo", "up"]);
  const sockPath = join(tmpdir(), `mt-api-${randomBytes(4).toString("hex")}.sock`);
  const sockets = new Set<Socket>();
  let held = false;
  let heldBytes = 0;
  const server: Server = createServer((c) => {
    const api = createConnection(port, "127.0.0.1");
    sockets.add(c).add(api);
    c.on("data", (chunk: Buffer) => {
      if (held) heldBytes += chunk.length;
      else api.write(chunk);
    });
    c.on("end", () => api.end());
    api.pipe(c);
    c.on("error", () => api.destroy());
    api.on("error", () => c.destroy());
    c.on("close", () => sockets.delete(c));
    api.on("close", () => sockets.delete(api));
  });
  await new Promise<void>((resolve) => server.listen(sockPath, resolve));
  const child: ChildProcess = spawn("ip", ["netns", "exec", nodeNs, process.execPath, "-e", FORWARDER, String(port), sockPath], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error("API forwarder in the node namespace did not start")); }, 10_000);
    child.stdout?.once("data", () => {
      clearTimeout(timer);
      resolve();
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`API forwarder exited with ${String(code)}`));
    });
  });
  return {
    hold() {
      held = true;
    },
    heldBytes() {
      return heldBytes;
    },
    release() {
      held = false;
    },
    async stop() {
      // Only the forwarder this helper started, by its PID.
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once("exit", resolve));
        child.kill("SIGKILL");
        await exited;
      }
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
      await rm(sockPath, { force: true });
    },
  };
}
