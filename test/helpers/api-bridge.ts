// Makes the test control plane (kube-apiserver on the machine's 127.0.0.1) reachable at the same
// address from inside a throw-away node namespace, without touching the root namespace's network:
// the root side listens on a unix socket (file-system sockets cross network namespaces) and dials the
// API; the node side is test/cluster/node/forward.ts, started inside the node namespace, listening on
// its own 127.0.0.1:<port> and dialling that unix socket. Everything stays on loopback; both ends stop
// with stop().
//
// Every TCP leg has Nagle's algorithm off (TCP_NODELAY), as Go's and Node's HTTP clients and servers
// have on a real node: with it on, a request the client writes in two segments waits for the peer's
// delayed ACK, ≈ 40 ms a request (docs/performance.md, "The API path"). test/integration/api-bridge.test.ts
// proves the path stall-free with a probe that sees that stall when Nagle is turned back on.
//
// The API's latency is a parameter (`delayMs`, or setDelay()): every byte is held `delayMs` in each
// direction, and a new connection's first bytes another 2 × `delayMs` (the TCP handshake's round trip
// a real network would charge), deterministically and in order. 0 (the default) forwards at once.
import { spawn, type ChildProcess } from "node:child_process";
import { rm } from "node:fs/promises";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { execInNetns } from "./netns.ts";

export interface ApiBridgeOptions {
  /** Added latency per direction, in ms (see the header). Default 0. */
  delayMs?: number;
  /** Leave Nagle's algorithm on for the bridge's TCP legs: only for the test that proves the stall probe can see it. */
  nagle?: boolean;
}

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
  /** The added latency per direction from now on (connections already open included). */
  setDelay(ms: number): void;
  readonly delayMs: number;
  stop(): Promise<void>;
}

const FORWARDER = fileURLToPath(new URL("../cluster/node/forward.ts", import.meta.url));
let seq = 0;

export async function startApiBridge(nodeNs: string, port: number, options: ApiBridgeOptions = {}): Promise<ApiBridge> {
  await execInNetns(nodeNs, ["ip", "link", "set", "lo", "up"]);
  const sockPath = join(tmpdir(), `mt-api-${String(process.pid)}-${String(++seq)}.sock`);
  const sockets = new Set<Socket>();
  let held = false;
  let heldBytes = 0;
  let delayMs = checkedDelay(options.delayMs ?? 0);
  const server: Server = createServer((c) => {
    const api = createConnection(port, "127.0.0.1");
    if (options.nagle !== true) api.setNoDelay(true);
    sockets.add(c).add(api);
    // The TCP handshake's round trip: a new connection's first bytes arrive 2 × delay later than
    // their own delay would have them.
    const toApi = new DelayedPipe(api, () => delayMs, performance.now() + 3 * delayMs);
    const toClient = new DelayedPipe(c, () => delayMs, 0);
    c.on("data", (chunk: Buffer) => {
      if (held) heldBytes += chunk.length;
      else toApi.push(chunk);
    });
    c.on("end", () => { toApi.end(); });
    api.on("data", (chunk: Buffer) => { toClient.push(chunk); });
    api.on("end", () => { toClient.end(); });
    c.on("error", () => api.destroy());
    api.on("error", () => c.destroy());
    c.on("close", () => {
      sockets.delete(c);
      toApi.cancel();
    });
    api.on("close", () => {
      sockets.delete(api);
      toClient.cancel();
    });
  });
  await new Promise<void>((resolve) => server.listen(sockPath, resolve));
  const nodeArgs = [FORWARDER, ...(options.nagle === true ? ["--nagle"] : []), `tcp:127.0.0.1:${String(port)}=unix:${sockPath}`];
  const child: ChildProcess = spawn("ip", ["netns", "exec", nodeNs, process.execPath, ...nodeArgs], { stdio: ["ignore", "pipe", "inherit"] });
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
    setDelay(ms) {
      delayMs = checkedDelay(ms);
    },
    get delayMs() {
      return delayMs;
    },
    async stop() {
      // Only the forwarder this helper started, by its PID.
      if (child.exitCode === null && child.signalCode === null) {
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

function checkedDelay(ms: number): number {
  if (!Number.isFinite(ms) || ms < 0 || ms > 10_000) throw new Error(`API bridge delay ${String(ms)} ms: 0 to 10000`);
  return ms;
}

/**
 * Writes chunks to `out` `delay()` ms after they were pushed (not before `notBefore`), in the order
 * pushed; with no delay and nothing queued, at once.
 */
class DelayedPipe {
  readonly #out: Socket;
  readonly #delay: () => number;
  readonly #queue: { due: number; chunk: Buffer | "end" }[] = [];
  #notBefore: number;
  #timer: NodeJS.Timeout | undefined;

  constructor(out: Socket, delay: () => number, notBefore: number) {
    this.#out = out;
    this.#delay = delay;
    this.#notBefore = notBefore;
  }

  push(chunk: Buffer): void {
    this.#enqueue(chunk);
  }

  end(): void {
    this.#enqueue("end");
  }

  cancel(): void {
    clearTimeout(this.#timer);
    this.#queue.length = 0;
  }

  #enqueue(chunk: Buffer | "end"): void {
    const now = performance.now();
    const due = Math.max(now + this.#delay(), this.#notBefore);
    if (due <= now && this.#queue.length === 0) {
      this.#write(chunk);
      return;
    }
    // Later bytes never overtake earlier ones, whatever the delay was when each arrived.
    this.#notBefore = due;
    this.#queue.push({ due, chunk });
    this.#arm();
  }

  #arm(): void {
    const head = this.#queue[0];
    if (head === undefined || this.#timer !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#drain();
    }, Math.max(0, head.due - performance.now()));
  }

  #drain(): void {
    // A timer may fire a little early by performance.now()'s clock: what is not due yet is re-armed.
    const now = performance.now();
    while (this.#queue[0] !== undefined && this.#queue[0].due <= now) {
      const next = this.#queue.shift();
      if (next !== undefined) this.#write(next.chunk);
    }
    this.#arm();
  }

  #write(chunk: Buffer | "end"): void {
    if (this.#out.destroyed) return;
    if (chunk === "end") this.#out.end();
    else this.#out.write(chunk);
  }
}
