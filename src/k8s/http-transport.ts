// How KubeClient's requests reach the API server: HTTP/2 over one TLS connection when the server
// offers it (ALPN "h2", as kube-apiserver does), so that concurrent requests — a pod's NADs, its
// network-status patch and its events — share one TLS handshake and one round trip, as client-go's
// do; HTTP/1.1 with a keep-alive agent otherwise (a plain-http server, or a TLS server or proxy that
// does not speak h2). A thin CNI call is a fresh process: each further HTTP/1.1 connection would cost
// it a TLS handshake, and each request a round trip (docs/performance.md).
//
// Exported API:
//   interface Exchange { status, headers, body: Readable }   a response whose body is unread
//   class HttpTransport(config)
//     exchange(method, url, headers, payload, signal): Promise<Exchange>
//       Rejects with the transport's error; `err[RETRY_SAFE]` is true when the request certainly never
//       reached the server (a keep-alive socket the server had closed, a stream the server refused or
//       a session it was closing): sending it again is safe for any method.
//     close()   ends the session and the pooled sockets; requests in flight fail
//     protocol(): "h2" | "http/1.1" | undefined   what the last connection negotiated (logs, tests)
import type * as http from "node:http";
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http";
import * as http2 from "node:http2";
import type * as https from "node:https";
import type { Readable } from "node:stream";
import * as tls from "node:tls";
import type { ClientConfig } from "./client-config.ts";

export interface Exchange {
  status: number;
  headers: IncomingHttpHeaders;
  /** The response body, to be read or destroyed by the caller. */
  body: Readable;
}

/** Set on an error when the request never reached the server (safe to send again). */
export const RETRY_SAFE = Symbol("retry-safe");

type RetrySafeError = Error & { [RETRY_SAFE]?: boolean };

/** A session that does not answer a PING within this long after a request timed out is dropped. */
const PING_TIMEOUT_MS = 5_000;

export class HttpTransport {
  readonly #config: ClientConfig;
  readonly #tls: tls.ConnectionOptions;
  #agent: http.Agent | https.Agent | undefined;
  /** Once a TLS server has answered without h2, every request of this client goes over HTTP/1.1. */
  #h1Only: boolean;
  #session: Promise<http2.ClientHttp2Session | undefined> | undefined;
  /** The session #session resolved to, while it takes new streams. */
  #live: http2.ClientHttp2Session | undefined;
  #protocol: "h2" | "http/1.1" | undefined;
  #closed = false;

  constructor(config: ClientConfig) {
    this.#config = config;
    this.#h1Only = config.server.protocol !== "https:";
    const options: tls.ConnectionOptions = { rejectUnauthorized: !config.insecureSkipTlsVerify };
    if (config.ca !== undefined) options.ca = config.ca;
    if (config.cert !== undefined) options.cert = config.cert;
    if (config.key !== undefined) options.key = config.key;
    if (config.tlsServerName !== undefined) options.servername = config.tlsServerName;
    this.#tls = options;
  }

  protocol(): "h2" | "http/1.1" | undefined {
    return this.#protocol;
  }

  close(): void {
    this.#closed = true;
    this.#agent?.destroy();
    this.#live?.destroy();
    this.#live = undefined;
    this.#session = undefined;
  }

  async exchange(method: string, url: URL, headers: OutgoingHttpHeaders, payload: Buffer | undefined, signal: AbortSignal): Promise<Exchange> {
    if (!this.#h1Only) {
      const session = await this.#h2Session(signal);
      if (session !== undefined) return this.#h2Exchange(session, method, url, headers, payload, signal);
    }
    return this.#h1Exchange(method, url, headers, payload, signal);
  }

  // ---- HTTP/1.1 ----

  #h1Exchange(method: string, url: URL, headers: OutgoingHttpHeaders, payload: Buffer | undefined, signal: AbortSignal): Promise<Exchange> {
    this.#protocol ??= "http/1.1";
    const secure = url.protocol === "https:";
    // Loaded only here: a client that speaks HTTP/2 (a thin call against kube-apiserver) never needs them.
    const mod = secure ? process.getBuiltinModule("node:https") : process.getBuiltinModule("node:http");
    // One keep-alive agent per client: the TLS handshake is paid once, not per request.
    this.#agent ??= new mod.Agent(secure ? { keepAlive: true, ...this.#tls } : { keepAlive: true });
    const agent = this.#agent;
    return new Promise((resolve, reject) => {
      const req = mod.request(url, { method, headers, agent, signal }, (res) => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res });
      });
      req.on("error", (err: RetrySafeError) => {
        // Node's documented pattern: a keep-alive socket the server closed meanwhile fails with
        // ECONNRESET before the request reached the server.
        if (req.reusedSocket && (err as NodeJS.ErrnoException).code === "ECONNRESET") err[RETRY_SAFE] = true;
        reject(err);
      });
      req.end(payload);
    });
  }

  // ---- HTTP/2 ----

  /** The current session, connecting when there is none; undefined once the server turned out not to speak h2. */
  #h2Session(signal: AbortSignal): Promise<http2.ClientHttp2Session | undefined> {
    if (this.#closed) return Promise.reject(new Error("the Kubernetes client is closed"));
    this.#session ??= this.#connect(signal).then(
      (s) => s,
      (err: unknown) => {
        this.#session = undefined;
        throw err;
      },
    );
    return this.#session;
  }

  /**
   * TLS first, offering h2 and http/1.1: a server that picks http/1.1 gets every request of this
   * client over HTTP/1.1 from now on (the probe connection is closed).
   */
  #connect(signal: AbortSignal): Promise<http2.ClientHttp2Session | undefined> {
    const server = this.#config.server;
    const host = server.hostname.replace(/^\[(.*)\]$/, "$1");
    const port = Number(server.port === "" ? "443" : server.port);
    return new Promise((resolve, reject) => {
      const socket = tls.connect({ ...this.#tls, host, port, ALPNProtocols: ["h2", "http/1.1"], ...(this.#tls.servername === undefined && !isIpLiteral(host) ? { servername: host } : {}) });
      socket.setNoDelay(true);
      const onAbort = (): void => {
        socket.destroy(signal.reason instanceof Error ? signal.reason : new Error("aborted"));
      };
      signal.addEventListener("abort", onAbort, { once: true });
      socket.once("error", (err: Error) => {
        signal.removeEventListener("abort", onAbort);
        reject(err);
      });
      socket.once("secureConnect", () => {
        signal.removeEventListener("abort", onAbort);
        if (this.#closed) {
          socket.destroy();
          reject(new Error("the Kubernetes client is closed"));
          return;
        }
        if (socket.alpnProtocol !== "h2") {
          socket.destroy();
          this.#h1Only = true;
          resolve(undefined);
          return;
        }
        this.#protocol = "h2";
        const session = http2.connect(server.origin, { createConnection: () => socket });
        // Idle, the session does not keep the process alive (as node:http's idle keep-alive sockets
        // do not); a stream in flight does (#h2Exchange).
        session.unref();
        this.#live = session;
        const drop = (): void => {
          if (this.#live !== session) return;
          this.#live = undefined;
          this.#session = undefined;
        };
        // A session the server is closing (GOAWAY) takes no new streams: the next request opens another.
        session.on("goaway", drop);
        session.on("close", drop);
        session.on("error", drop);
        resolve(session);
      });
    });
  }

  #h2Exchange(session: http2.ClientHttp2Session, method: string, url: URL, headers: OutgoingHttpHeaders, payload: Buffer | undefined, signal: AbortSignal): Promise<Exchange> {
    const h2Headers: http2.OutgoingHttpHeaders = { ":method": method, ":path": `${url.pathname}${url.search}` };
    // HTTP/2 header names are lower case; a Content-Length is left to the framing.
    for (const [k, v] of Object.entries(headers)) if (v !== undefined && k.toLowerCase() !== "content-length") h2Headers[k.toLowerCase()] = v;
    return new Promise((resolve, reject) => {
      let stream: http2.ClientHttp2Stream;
      try {
        stream = session.request(h2Headers, { endStream: payload === undefined, signal });
        this.#streamOpened(session, stream);
      } catch (err) {
        // The session is going away (GOAWAY) or gone: nothing was sent.
        const e = err as RetrySafeError;
        e[RETRY_SAFE] = true;
        reject(e);
        return;
      }
      stream.once("response", (h) => {
        const status = Number(h[":status"]);
        const plain: IncomingHttpHeaders = {};
        for (const [k, v] of Object.entries(h)) if (!k.startsWith(":")) plain[k] = v;
        resolve({ status, headers: plain, body: stream });
      });
      // A stream reset without an error (CANCEL) before any response must not leave the caller waiting.
      stream.once("close", () => {
        reject(new Error(`the API server closed the HTTP/2 stream before answering (code ${String(stream.rstCode)})`));
      });
      stream.once("error", (err: RetrySafeError) => {
        // REFUSED_STREAM: the server did not process it (RFC 9113 §8.7).
        if (stream.rstCode === http2.constants.NGHTTP2_REFUSED_STREAM) err[RETRY_SAFE] = true;
        if (signal.aborted && !session.destroyed) this.#probe(session);
        reject(err);
      });
      if (payload !== undefined) stream.end(payload);
    });
  }

  readonly #active = new WeakMap<http2.ClientHttp2Session, number>();

  #streamOpened(session: http2.ClientHttp2Session, stream: http2.ClientHttp2Stream): void {
    const n = (this.#active.get(session) ?? 0) + 1;
    this.#active.set(session, n);
    if (n === 1) session.ref();
    stream.once("close", () => {
      const left = (this.#active.get(session) ?? 1) - 1;
      this.#active.set(session, left);
      if (left === 0 && !session.destroyed) session.unref();
    });
  }

  /**
   * After a request timed out, the connection may be dead without a reset (a NAT or a node that
   * vanished): a PING unanswered within PING_TIMEOUT_MS drops the session, so that the next request
   * connects again instead of waiting on it (client-go does the same with its health checks).
   */
  #probe(session: http2.ClientHttp2Session): void {
    const timer = setTimeout(() => {
      session.destroy(new Error("the API server did not answer a PING"));
    }, PING_TIMEOUT_MS);
    timer.unref();
    const sent = session.ping((err) => {
      clearTimeout(timer);
      if (err !== null) session.destroy(err);
    });
    if (!sent) {
      clearTimeout(timer);
      session.destroy();
    }
  }
}

function isIpLiteral(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(":");
}
