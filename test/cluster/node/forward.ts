// A byte forwarder between loopback TCP and unix sockets, the glue between the test node's
// network namespace and the root namespace: a unix socket is a file, so both namespaces can reach
// it, while each namespace has its own 127.0.0.1. node.sh runs one forwarder per namespace:
//
//   root ns: unix:<state>/api.sock        -> tcp:127.0.0.1:<apiserver port>   (kubelet, multus -> API)
//            tcp:127.0.0.1:<kubelet port> -> unix:<state>/kubelet.sock        (API -> kubelet: exec, logs)
//   node ns: tcp:127.0.0.1:<apiserver port> -> unix:<state>/api.sock
//            unix:<state>/kubelet.sock      -> tcp:127.0.0.1:<kubelet port>
//
//            tcp:10.96.0.1:443              -> unix:<state>/api.sock   (the `kubernetes` Service's ClusterIP,
//                                                                    what in-cluster clients dial; kube-proxy's job on a real node)
//
//   node forward.ts [--nagle] LISTEN=DIAL …   with LISTEN and DIAL each `tcp:127.0.0.1:PORT` or `unix:/path`
//
// and, for the control plane (cluster.sh), an HTTP CONNECT proxy — what konnectivity is to a real
// cluster whose nodes the apiserver cannot reach directly:
//
//   connect:unix:<state>/egress.sock=routes:<state>/kubelets
//
// kube-apiserver's egress selector (its `cluster` traffic: logs, exec, port-forward to kubelets, and
// webhooks) sends `CONNECT host:port` on that socket. A host with a route — a symlink
// <routes>/<host> to the unix socket of that node's kubelet forwarder, made by node.sh — is carried
// into its node's namespace; any other host must be loopback (127.0.0.1, localhost, ::1: a webhook
// the tests serve on the machine) and is dialled there; anything else gets 502. This is how a node
// can have a name of its own (`node-2`) although no name but `localhost` reaches the machine's
// loopback.
//
// Every TCP socket has Nagle's algorithm off (TCP_NODELAY), as on a real node's API path: with it on,
// a request written in two segments waits for the peer's delayed ACK, ≈ 40 ms (docs/performance.md,
// "The API path"). `--nagle` (first argument) leaves it on: only for the test that proves its stall
// probe sees the difference (test/integration/api-bridge.test.ts).
//
// Only loopback addresses are accepted, so nothing is ever exposed beyond the machine — and, as a
// listener, the ClusterIP 10.96.0.1, which node.sh assigns only to the node netns's `lo`. Prints
// "ready" on stdout once every listener is bound; SIGTERM/SIGINT close the listeners and exit.
import { readlinkSync, rmSync } from "node:fs";
import { join } from "node:path";
import { createConnection, createServer, type Server, type Socket } from "node:net";

type Endpoint = { readonly kind: "tcp"; readonly host: string; readonly port: number } | { readonly kind: "unix"; readonly path: string };

function parseEndpoint(text: string): Endpoint {
  const tcp = /^tcp:(127\.0\.0\.1|\[::1\]|10\.96\.0\.1):(\d{1,5})$/.exec(text);
  if (tcp?.[1] !== undefined && tcp[2] !== undefined) {
    const port = Number(tcp[2]);
    if (port < 1 || port > 65535) throw new Error(`bad port in ${text}`);
    return { kind: "tcp", host: tcp[1].replace(/^\[|\]$/g, ""), port };
  }
  if (text.startsWith("unix:/")) return { kind: "unix", path: text.slice("unix:".length) };
  throw new Error(`not tcp:127.0.0.1:PORT, tcp:10.96.0.1:PORT or unix:/path: ${text}`);
}

const args = process.argv.slice(2);
const nagle = args[0] === "--nagle";
if (nagle) args.shift();

function dial(to: Endpoint): Socket {
  if (to.kind === "unix") return createConnection(to.path);
  const s = createConnection(to.port, to.host);
  if (!nagle) s.setNoDelay(true);
  return s;
}

function listen(from: Endpoint, to: Endpoint): Promise<Server> {
  const server = createServer((client) => {
    if (from.kind === "tcp" && !nagle) client.setNoDelay(true);
    const upstream = dial(to);
    client.pipe(upstream).pipe(client);
    // Either side failing ends both: a half-open pair would hang its peer until its own deadline.
    client.on("error", () => upstream.destroy());
    upstream.on("error", () => client.destroy());
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    if (from.kind === "tcp") {
      server.listen(from.port, from.host, () => { resolve(server); });
    } else {
      // A socket file left by a killed forwarder would make listen() fail with EADDRINUSE.
      rmSync(from.path, { force: true });
      server.listen(from.path, () => { resolve(server); });
    }
  });
}

/** The longest CONNECT request head accepted; kube-apiserver's is one line and a Host header. */
const MAX_CONNECT_HEAD = 4096;
/** How long a client may take to send its CONNECT head. */
const CONNECT_HEAD_TIMEOUT_MS = 30_000;

/** Where `CONNECT host:port` goes: a node's kubelet socket by route, else loopback TCP, else nowhere. */
function connectTarget(routes: string, host: string, port: number): Endpoint | undefined {
  if (/^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/.test(host)) {
    try {
      const path = readlinkSync(join(routes, host));
      if (path.startsWith("/")) return { kind: "unix", path };
    } catch {
      // no route for this host: it may still be loopback
    }
  }
  if (host === "127.0.0.1" || host === "localhost") return { kind: "tcp", host: "127.0.0.1", port };
  if (host === "::1") return { kind: "tcp", host: "::1", port };
  return undefined;
}

function connectProxy(from: Endpoint, routes: string): Promise<Server> {
  const server = createServer((client) => {
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) {
        if (head.length > MAX_CONNECT_HEAD) client.end("HTTP/1.1 431 Request Header Fields Too Large\r\n\r\n");
        return;
      }
      client.off("data", onData);
      client.setTimeout(0);
      client.pause();
      const line = head.subarray(0, head.indexOf("\r\n")).toString("latin1");
      const rest = head.subarray(end + 4);
      const m = /^CONNECT (\[[0-9a-fA-F:]+\]|[^\s:]+):(\d{1,5}) HTTP\/1\.[01]$/.exec(line);
      const port = Number(m?.[2]);
      const to = m?.[1] !== undefined && port >= 1 && port <= 65535 ? connectTarget(routes, m[1].replace(/^\[|\]$/g, "").toLowerCase(), port) : undefined;
      if (to === undefined) {
        client.end(`HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\n\r\nforward.ts: no route for ${JSON.stringify(line.slice(0, 200))}\n`);
        return;
      }
      const upstream = dial(to);
      let connected = false;
      upstream.once("connect", () => {
        connected = true;
        client.write("HTTP/1.1 200 Connection established\r\n\r\n");
        if (rest.length > 0) upstream.write(rest);
        client.pipe(upstream).pipe(client);
        client.resume();
      });
      upstream.on("error", (err) => {
        if (!connected) client.end(`HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\n\r\nforward.ts: ${err.message}\n`);
        else client.destroy();
      });
      client.on("error", () => upstream.destroy());
      client.on("close", () => upstream.destroy());
      upstream.on("close", () => client.destroy());
    };
    client.on("data", onData);
    client.on("error", () => client.destroy());
    // A client that never finishes its CONNECT head is not kept forever.
    // (Cleared once the head is read: a tunnel may then stay idle as long as its ends like.)
    client.setTimeout(CONNECT_HEAD_TIMEOUT_MS, () => client.destroy());
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    if (from.kind !== "unix") throw new Error("connect: listens on a unix socket only");
    rmSync(from.path, { force: true });
    server.listen(from.path, () => { resolve(server); });
  });
}

const rules = args;
if (rules.length === 0) {
  process.stderr.write("usage: forward.ts [--nagle] LISTEN=DIAL … (tcp:127.0.0.1:PORT | unix:/path)\n");
  process.exit(2);
}
const servers: Server[] = [];
for (const rule of rules) {
  const [from, to, extra] = rule.split("=");
  if (from === undefined || to === undefined || extra !== undefined) throw new Error(`not LISTEN=DIAL: ${rule}`);
  if (from.startsWith("connect:")) {
    if (!to.startsWith("routes:/")) throw new Error(`not connect:unix:/path=routes:/dir: ${rule}`);
    servers.push(await connectProxy(parseEndpoint(from.slice("connect:".length)), to.slice("routes:".length)));
  } else {
    servers.push(await listen(parseEndpoint(from), parseEndpoint(to)));
  }
}
process.stdout.write("ready\n");
const stop = (): void => {
  for (const server of servers) server.close();
  process.exit(0);
};
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
