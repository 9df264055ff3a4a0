// KubeClient against real loopback HTTP(S) servers (no mocks): retries with backoff on 5xx / 429 /
// connection errors, Retry-After, deadlines, 401 → token re-read (multus#852), Status → typed
// errors, keep-alive reuse, mutual TLS, watch streaming, 410 Gone, idle timeout; and its transport
// (src/k8s/http-transport.ts): HTTP/2 with a server that offers h2 (Node's http2 server, as
// kube-apiserver does), HTTP/1.1 with one that does not.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import * as http from "node:http";
import * as http2 from "node:http2";
import * as https from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { TLSSocket } from "node:tls";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import type { ClientConfig } from "../../src/k8s/client-config.ts";
import { isAlreadyExists, isConflict, isForbidden, isGone, isNotFound, isWatchIdle, KubeApiError } from "../../src/k8s/kube-api-error.ts";
import { KubeClient } from "../../src/k8s/kube-client.ts";
import type { KubeClientOptions, WatchEvent } from "../../src/k8s/kube-client.ts";
import { MultusError } from "../../src/util/multus-error.ts";
import { memoryLogger } from "../helpers/memory-logger.ts";

const execFileP = promisify(execFile);

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, seen: Seen, index: number) => void | Promise<void>;

interface Loopback {
  url: string;
  requests: Seen[];
  /** TCP connections accepted so far. */
  connections: () => number;
  close: () => Promise<void>;
}

/** `tls` makes it HTTPS; `h2` an HTTP/2 server (ALPN h2, HTTP/1.1 too) with the same handler API. */
async function serve(handler: Handler, tls?: https.ServerOptions, h2 = false): Promise<Loopback> {
  const requests: Seen[] = [];
  let connections = 0;
  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const seen = { method: req.method ?? "", url: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks).toString() };
      requests.push(seen);
      void Promise.resolve(handler(req, res, seen, requests.length - 1)).catch((err: unknown) => {
        res.destroy(err instanceof Error ? err : new Error(String(err)));
      });
    });
  };
  const server =
    tls === undefined
      ? http.createServer(onRequest)
      : h2
        ? http2.createSecureServer({ ...tls, allowHTTP1: true } as http2.SecureServerOptions, onRequest as unknown as (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void)
        : https.createServer(tls, onRequest);
  server.on(tls === undefined ? "connection" : "secureConnection", () => connections++);
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (s: http2.ServerHttp2Session) => {
    sessions.add(s);
    s.on("close", () => sessions.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `${tls === undefined ? "http" : "https"}://127.0.0.1:${port}`,
    requests,
    connections: () => connections,
    close: () =>
      new Promise<void>((resolve) => {
        if ("closeAllConnections" in server) server.closeAllConnections();
        else for (const s of sessions) s.destroy();
        server.close(() => {
          resolve();
        });
      }),
  };
}

function json(res: http.ServerResponse, status: number, body: unknown, headers: http.OutgoingHttpHeaders = {}): void {
  res.writeHead(status, { "Content-Type": "application/json", ...headers });
  res.end(JSON.stringify(body));
}

function status(code: number, reason: string, message: string, details?: Record<string, string>): unknown {
  return { kind: "Status", apiVersion: "v1", status: "Failure", code, reason, message, ...(details === undefined ? {} : { details }) };
}

const POD = { kind: "Pod", apiVersion: "v1", metadata: { name: "web", namespace: "ns1", uid: "u1", resourceVersion: "7" } };
const POD_PATH = "/api/v1/namespaces/ns1/pods/web";

const fast: KubeClientOptions = { retry: { attempts: 3, baseDelayMs: 20, maxDelayMs: 200 }, random: () => 0.5 };

function client(server: Loopback, config: Partial<ClientConfig> = {}, options: KubeClientOptions = fast): KubeClient {
  return new KubeClient({ server: new URL(server.url), insecureSkipTlsVerify: false, token: "t0", ...config }, options);
}


let dir = "";
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "mt-k8s-client-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Asserts a KubeApiError (MultusError) with the given catalogue code and HTTP status. */
function isKubeError(code: string, httpStatus: number | undefined, re?: RegExp): (err: unknown) => boolean {
  return (err: unknown) => {
    assert.ok(err instanceof KubeApiError, `expected KubeApiError, got ${String(err)}`);
    assert.ok(err instanceof MultusError);
    assert.equal(err.errorCode, code);
    assert.equal(err.httpStatus, httpStatus);
    assert.ok(!err.message.includes("\n"), "one-line message");
    if (re !== undefined) assert.match(err.message, re);
    return true;
  };
}

describe("requests", () => {
  test("GET sends the bearer token, Accept and User-Agent, and decodes JSON", async () => {
    const srv = await serve((_req, res) => {
      json(res, 200, POD);
    });
    const c = client(srv, { userAgent: "from-config" }, { ...fast, userAgent: "multus-ts/test" });
    try {
      assert.deepEqual(await c.get(POD_PATH), POD);
      const seen = srv.requests[0];
      assert.equal(seen?.method, "GET");
      assert.equal(seen.url, POD_PATH);
      assert.equal(seen.headers.authorization, "Bearer t0");
      assert.equal(seen.headers.accept, "application/json");
      assert.equal(seen.headers["user-agent"], "multus-ts/test");
    } finally {
      c.close();
      await srv.close();
    }
  });

  test("a path prefix in the server URL is kept; query parameters are encoded", async () => {
    const srv = await serve((_req, res) => {
      json(res, 200, { kind: "PodList", metadata: { resourceVersion: "9" }, items: [] });
    });
    const c = new KubeClient({ server: new URL(`${srv.url}/k8s/clusters/c-1/`), insecureSkipTlsVerify: false }, fast);
    try {
      await c.list("/api/v1/namespaces/ns1/pods", { labelSelector: "app in (a,b)", fieldSelector: "spec.nodeName=node-1" });
      const url = new URL(srv.requests[0]?.url ?? "", "http://x");
      assert.equal(url.pathname, "/k8s/clusters/c-1/api/v1/namespaces/ns1/pods");
      assert.equal(url.searchParams.get("labelSelector"), "app in (a,b)");
      assert.equal(url.searchParams.get("fieldSelector"), "spec.nodeName=node-1");
      assert.equal(srv.requests[0]?.headers.authorization, undefined, "no credentials, no header");
    } finally {
      c.close();
      await srv.close();
    }
  });

  test("requests reuse one keep-alive connection", async () => {
    const srv = await serve((_req, res) => {
      json(res, 200, POD);
    });
    const c = client(srv);
    try {
      for (let i = 0; i < 5; i++) await c.get(POD_PATH);
      assert.equal(srv.requests.length, 5);
      assert.equal(srv.connections(), 1);
    } finally {
      c.close();
      await srv.close();
    }
  });

  test("list follows continue tokens when a page size is set and keeps the first page's resourceVersion", async () => {
    const srv = await serve((req, res) => {
      const q = new URL(req.url ?? "", "http://x").searchParams;
      const cont = q.get("continue");
      if (cont === null) json(res, 200, { metadata: { resourceVersion: "100", continue: "p2" }, items: [{ n: 1 }, { n: 2 }] });
      else if (cont === "p2") json(res, 200, { metadata: { resourceVersion: "100", continue: "p3" }, items: [{ n: 3 }] });
      else json(res, 200, { metadata: { resourceVersion: "100" }, items: [{ n: 4 }] });
    });
    const c = client(srv);
    try {
      const list = await c.list("/api/v1/pods", { limit: 2, resourceVersion: "0" });
      assert.deepEqual(list, { resourceVersion: "100", items: [{ n: 1 }, { n: 2 }, { n: 3 }, { n: 4 }] });
      assert.equal(srv.requests.length, 3);
      const second = new URL(srv.requests[1]?.url ?? "", "http://x").searchParams;
      assert.equal(second.get("resourceVersion"), null, "a continue token pins the snapshot by itself");
      assert.equal(second.get("limit"), "2");
    } finally {
      c.close();
      await srv.close();
    }
  });

  test("patch sends the content type of each patch kind", async () => {
    const srv = await serve((_req, res) => {
      json(res, 200, POD);
    });
    const c = client(srv);
    try {
      await c.patch(POD_PATH, { metadata: { labels: { a: "b" } } }, "merge");
      await c.patch(POD_PATH, { metadata: { labels: { a: "b" } } }, "strategic");
      await c.patch(POD_PATH, [{ op: "add", path: "/metadata/labels/a", value: "b" }], "json");
      assert.deepEqual(
        srv.requests.map((r) => [r.method, r.headers["content-type"]]),
        [
          ["PATCH", "application/merge-patch+json"],
          ["PATCH", "application/strategic-merge-patch+json"],
          ["PATCH", "application/json-patch+json"],
        ],
      );
      assert.deepEqual(JSON.parse(srv.requests[2]?.body ?? ""), [{ op: "add", path: "/metadata/labels/a", value: "b" }]);
    } finally {
      c.close();
      await srv.close();
    }
  });

  test("a decoder validates the answer; a decoder error is MULTUS_ERR_API naming the object", async () => {
    const srv = await serve((_req, res) => {
      json(res, 200, { kind: "Pod" });
    });
    const c = client(srv);
    try {
      const decode = (v: unknown): { ok: true } => {
        throw new TypeError(`bad ${JSON.stringify(v)}`);
      };
      await assert.rejects(c.get(POD_PATH, { decode }), isKubeError("MULTUS_ERR_API", undefined, /^get Pod ns1\/web: the API server's answer is not usable: bad \{"kind":"Pod"\}$/));
    } finally {
      c.close();
      await srv.close();
    }
  });
});

test("ignoreResponse: a success whose body the caller does not need is not decoded (nor required to be JSON)", async () => {
  const srv = await serve((_req, res) => {
    res.writeHead(201, { "Content-Type": "application/json" });
    res.end("{ not json: the body is never parsed");
  });
  const c = client(srv);
  try {
    assert.equal(await c.create("/api/v1/namespaces/ns1/events", { reason: "X" }, { ignoreResponse: true }), undefined);
    assert.equal(await c.patch("/api/v1/namespaces/ns1/pods/p/status", { metadata: {} }, "merge", { ignoreResponse: true }), undefined);
    await assert.rejects(c.create("/api/v1/namespaces/ns1/events", { reason: "X" }), /not JSON/);
    assert.equal(srv.requests.length, 3);
  } finally {
    c.close();
    await srv.close();
  }
});

describe("limits", () => {
  test("a response body over maxResponseBytes fails with MULTUS_ERR_TOO_LARGE naming the limit, without retries", async () => {
    const srv = await serve((_req, res) => {
      json(res, 200, { ...POD, padding: "x".repeat(4096) });
    });
    const c = client(srv, {}, { ...fast, maxResponseBytes: 1024 });
    try {
      await assert.rejects(c.get(POD_PATH), isKubeError("MULTUS_ERR_TOO_LARGE", undefined, /larger than 1 KiB \(1024 bytes\), Multus's limit/));
      assert.equal(srv.requests.length, 1, "the same request would get the same answer: not retried");
    } finally {
      c.close();
      await srv.close();
    }
  });

  test("a watch event over maxResponseBytes ends the watch with MULTUS_ERR_TOO_LARGE", async () => {
    const srv = await serve((_req, res) => {
      res.writeHead(200, { "Content-Type": "application/json" });
      res.write(JSON.stringify({ type: "ADDED", object: { ...POD, padding: "x".repeat(4096) } }));
    });
    const c = client(srv, {}, { ...fast, maxResponseBytes: 1024 });
    try {
      await assert.rejects(async () => {
        for await (const _ev of c.watch("/api/v1/namespaces/ns1/pods")) {
          // no event is small enough to arrive
        }
      }, isKubeError("MULTUS_ERR_TOO_LARGE", undefined));
    } finally {
      c.close();
      await srv.close();
    }
  });
});

describe("retries", () => {
  test("503 then 200: GET is retried after a backoff, and the retry is logged", async () => {
    const srv = await serve((_req, res, _seen, i) => {
      if (i === 0) json(res, 503, status(503, "ServiceUnavailable", "etcd is down"));
      else json(res, 200, POD);
    });
    const { log: logger, lines } = memoryLogger();
    const c = client(srv, {}, { ...fast, logger, retry: { attempts: 3, baseDelayMs: 100, maxDelayMs: 1000 } });
    try {
      const t0 = performance.now();
      assert.deepEqual(await c.get(POD_PATH), POD);
      const elapsed = performance.now() - t0;
      assert.equal(srv.requests.length, 2);
      // random() = 0.5 → equal jitter gives 50 + 0.5·50 = 75 ms for the first retry.
      assert.ok(elapsed >= 70, `waited ${elapsed} ms`);
      const warn = lines.find((l) => l.level === "warn");
      assert.equal(warn?.msg, "kube request retried");
      assert.equal(warn.fields["status"], 503);
      assert.equal(warn.fields["delayMs"], 75);
    } finally {
      c.close();
      await srv.close();
    }
  });

  test("5xx on every attempt: gives up after `attempts` with MULTUS_ERR_API (CNI 11) carrying Status.message", async () => {
    const srv = await serve((_req, res) => {
      json(res, 500, status(500, "InternalError", "Internal error occurred: etcdserver: request timed out"));
    });
    const c = client(srv);
    try {
      await assert.rejects(c.get(POD_PATH), (err: unknown) => {
        isKubeError("MULTUS_ERR_API", 500, /^get Pod ns1\/web: 500 InternalError: Internal error occurred: etcdserver: request timed out: /)(err);
        assert.equal((err as MultusError).code, 11);
        return true;
      });
      assert.equal(srv.requests.length, 3);
    } finally {
      c.close();
      await srv.close();
    }
  });

  test("429 with Retry-After: 1 waits a second before the retry", async () => {
    const srv = await serve((_req, res, _seen, i) => {
      if (i === 0) json(res, 429, status(429, "TooManyRequests", "too many requests"), { "Retry-After": "1" });
      else json(res, 200, POD);
    });
    const c = client(srv, {}, { retry: { attempts: 2, baseDelayMs: 10, maxDelayMs: 2000 } });
    try {
      const t0 = performance.now();
      await c.get(POD_PATH);
      const elapsed = performance.now() - t0;
      assert.equal(srv.requests.length, 2);
      assert.ok(elapsed >= 950 && elapsed < 1900, `waited ${elapsed} ms`);
    } finally {
      c.close();
      await srv.close();
    }
  });

  test("a Retry-After longer than maxDelayMs fails at once (the runtime retries on CNI 11)", async () => {
    const srv = await serve((_req, res) => {
      json(res, 429, status(429, "TooManyRequests", "too many requests"), { "Retry-After": "30" });
    });
    const c = client(srv);
    try {
      const t0 = performance.now();
      await assert.rejects(c.get(POD_PATH), (err: unknown) => {
        isKubeError("MULTUS_ERR_API", 429, /429 TooManyRequests/)(err);
        assert.equal((err as KubeApiError).retryAfterMs, 30_000);
        return true;
      });
      assert.equal(srv.requests.length, 1);
      assert.ok(performance.now() - t0 < 1000);
    } finally {
      c.close();
      await srv.close();
    }
  });

  test("POST create is not retried on 503 unless asked; PATCH and DELETE are", async () => {
    // Each call below meets exactly one 503 first.
    let failures = 0;
    const srv = await serve((_req, res) => {
      if (failures > 0) {
        failures--;
        json(res, 503, status(503, "ServiceUnavailable", "unavailable"));
      } else json(res, 201, POD);
    });
    const c = client(srv);
    try {
      failures = 1;
      await assert.rejects(c.create("/api/v1/namespaces/ns1/events", { a: 1 }), isKubeError("MULTUS_ERR_API", 503, /^create Events in namespace ns1: 503/));
      assert.equal(srv.requests.length, 1);
      failures = 1;
      await c.create("/api/v1/namespaces/ns1/events", { a: 1 }, { retry: true });
      assert.equal(srv.requests.length, 3);
      failures = 1;
      await c.patch(POD_PATH, {}, "merge");
      assert.equal(srv.requests.length, 5);
      failures = 1;
      await c.delete(POD_PATH);
      assert.equal(srv.requests.length, 7);
    } finally {
      c.close();
      await srv.close();
    }
  });

  test("connection refused: retried, then MULTUS_ERR_API saying the server cannot be reached", async () => {
    const srv = await serve((_req, res) => {
      json(res, 200, {});
    });
    const url = srv.url;
    await srv.close(); // nothing listens there any more
    const c = new KubeClient({ server: new URL(url), insecureSkipTlsVerify: false }, fast);
    try {
      await assert.rejects(c.get(POD_PATH), isKubeError("MULTUS_ERR_API", undefined, new RegExp(`^get Pod ns1/web: cannot reach the API server at ${url} \\(3 attempts\\): .*ECONNREFUSED`)));
    } finally {
      c.close();
    }
  });

  test("a keep-alive connection the server closed meanwhile is retried once even for POST", async () => {
    // The second request arrives on the reused socket and the server drops that socket without an
    // answer, as an idle-timeout close racing the request does: the client sees ECONNRESET on a
    // reused socket and sends the request again on a fresh connection.
    const srv = await serve((req, res, _seen, i) => {
      if (i === 1) req.socket.destroy();
      else json(res, 201, POD);
    });
    const c = client(srv, {}, { retry: { attempts: 1, baseDelayMs: 1, maxDelayMs: 1 } });
    try {
      await c.create("/api/v1/namespaces/ns1/events", {});
      assert.deepEqual(await c.create("/api/v1/namespaces/ns1/events", {}), POD);
      assert.equal(srv.requests.length, 3);
      assert.equal(srv.connections(), 2);
      // Only once: a server that keeps dropping fails the POST.
      const dropAll = await serve((req) => {
        req.socket.destroy();
      });
      const c2 = client(dropAll, {}, { retry: { attempts: 1, baseDelayMs: 1, maxDelayMs: 1 } });
      await assert.rejects(c2.create("/api/v1/namespaces/ns1/events", {}), isKubeError("MULTUS_ERR_API", undefined, /cannot reach the API server .*socket hang up/));
      c2.close();
      await dropAll.close();
    } finally {
      c.close();
      await srv.close();
    }
  });
});

describe("deadlines", () => {
  test("a server that never answers: the request fails at its deadline with MULTUS_ERR_API, not retried", async () => {
    const srv = await serve(() => {
      // never answer
    });
    const c = client(srv, {}, { ...fast, requestTimeoutMs: 300 });
    try {
      const t0 = performance.now();
      await assert.rejects(c.get(POD_PATH), isKubeError("MULTUS_ERR_API", undefined, /^get Pod ns1\/web: no answer from the API server at http:\/\/127\.0\.0\.1:\d+ within 300 ms$/));
      const elapsed = performance.now() - t0;
      assert.ok(elapsed >= 280 && elapsed < 1500, `took ${elapsed} ms`);
      assert.equal(srv.requests.length, 1, "its time is spent: no retry");
    } finally {
      c.close();
      await srv.close();
    }
  });

  test("the deadline also covers a body that stops half-way", async () => {
    const srv = await serve((_req, res) => {
      res.writeHead(200, { "Content-Type": "application/json" });
      res.write('{"kind":"Pod",'); // and nothing more
    });
    const c = client(srv, {}, { ...fast, requestTimeoutMs: 300 });
    try {
      await assert.rejects(c.get(POD_PATH), isKubeError("MULTUS_ERR_API", undefined, /within 300 ms/));
    } finally {
      c.close();
      await srv.close();
    }
  });

  test("the caller's signal aborts a request (its AbortError, not a KubeApiError)", async () => {
    const srv = await serve(() => {
      // never answer
    });
    const c = client(srv);
    try {
      await assert.rejects(c.get(POD_PATH, { signal: AbortSignal.timeout(100) }), (err: unknown) => {
        assert.ok(!(err instanceof KubeApiError));
        assert.equal((err as Error).name, "TimeoutError");
        return true;
      });
    } finally {
      c.close();
      await srv.close();
    }
  });
});

describe("tokens (multus#852)", () => {
  test("a tokenFile changed on disk is picked up by the next request (stat per request)", async () => {
    const tokenFile = join(dir, "token-mtime");
    await writeFile(tokenFile, "token-A\n");
    const srv = await serve((_req, res) => {
      json(res, 200, POD);
    });
    const c = client(srv, { token: "token-A", tokenFile });
    try {
      await c.get(POD_PATH);
      await writeFile(tokenFile, "token-B-longer\n");
      await c.get(POD_PATH);
      assert.deepEqual(srv.requests.map((r) => r.headers.authorization), ["Bearer token-A", "Bearer token-B-longer"]);
    } finally {
      c.close();
      await srv.close();
    }
  });

  test("401, then the token file is re-read and the request sent once more with the new token", async () => {
    const tokenFile = join(dir, "token-401");
    await writeFile(tokenFile, "old-token");
    const srv = await serve(async (_req, res, seen) => {
      if (seen.headers.authorization === "Bearer new-token") {
        json(res, 200, POD);
        return;
      }
      // Rotation races the request: the file changes while the old token is being rejected.
      await writeFile(tokenFile, "new-token");
      json(res, 401, status(401, "Unauthorized", "Unauthorized"));
    });
    const c = client(srv, { token: "old-token", tokenFile }, { ...fast, retry: { attempts: 1, baseDelayMs: 1, maxDelayMs: 1 } });
    try {
      assert.deepEqual(await c.get(POD_PATH), POD);
      assert.deepEqual(srv.requests.map((r) => r.headers.authorization), ["Bearer old-token", "Bearer new-token"]);
    } finally {
      c.close();
      await srv.close();
    }
  });

  test("401 with an unchanged token: MULTUS_ERR_API_FORBIDDEN naming the token file, no blind retry", async () => {
    const tokenFile = join(dir, "token-expired");
    await writeFile(tokenFile, "expired");
    const srv = await serve((_req, res) => {
      json(res, 401, status(401, "Unauthorized", "Unauthorized"));
    });
    const c = client(srv, { token: "expired", tokenFile });
    try {
      await assert.rejects(
        c.get(POD_PATH),
        isKubeError("MULTUS_ERR_API_FORBIDDEN", 401, new RegExp(`^get Pod ns1/web: 401 Unauthorized: the token in ${tokenFile} was rejected even after re-reading the file: it may have expired`)),
      );
      assert.equal(srv.requests.length, 1);
    } finally {
      c.close();
      await srv.close();
    }
  });

  test("401 with an inline kubeconfig token: the kubeconfig is re-read (whoever writes it may have refreshed it)", async () => {
    const kubeconfig = join(dir, "inline.kubeconfig");
    const write = (token: string, server: string): Promise<void> =>
      writeFile(
        kubeconfig,
        JSON.stringify({
          "current-context": "c",
          clusters: [{ name: "k", cluster: { server } }],
          contexts: [{ name: "c", context: { cluster: "k", user: "u" } }],
          users: [{ name: "u", user: { token } }],
        }),
      );
    const srv = await serve(async (_req, res, seen) => {
      if (seen.headers.authorization === "Bearer refreshed") {
        json(res, 200, POD);
        return;
      }
      await write("refreshed", srv.url);
      json(res, 401, status(401, "Unauthorized", "Unauthorized"));
    });
    await write("stale", srv.url);
    const c = client(srv, { token: "stale", kubeconfig: { path: kubeconfig, context: "c" } });
    try {
      await c.get(POD_PATH);
      assert.deepEqual(srv.requests.map((r) => r.headers.authorization), ["Bearer stale", "Bearer refreshed"]);
    } finally {
      c.close();
      await srv.close();
    }
  });

  test("401 with an inline kubeconfig token that was not refreshed: the message says who refreshes it", async () => {
    const kubeconfig = join(dir, "stale.kubeconfig");
    const srv = await serve((_req, res) => {
      json(res, 401, status(401, "Unauthorized", "Unauthorized"));
    });
    await writeFile(
      kubeconfig,
      JSON.stringify({
        "current-context": "c",
        clusters: [{ name: "k", cluster: { server: srv.url } }],
        contexts: [{ name: "c", context: { cluster: "k", user: "u" } }],
        users: [{ name: "u", user: { token: "stale" } }],
      }),
    );
    const c = client(srv, { token: "stale", kubeconfig: { path: kubeconfig, context: "c" } });
    try {
      await assert.rejects(
        c.get(POD_PATH),
        isKubeError("MULTUS_ERR_API_FORBIDDEN", 401, new RegExp(`^get Pod ns1/web: 401 Unauthorized: the token in ${kubeconfig} was rejected: it may have expired; write that kubeconfig again with a current token`)),
      );
      assert.equal(srv.requests.length, 1);
    } finally {
      c.close();
      await srv.close();
    }
  });
});

describe("Status → typed errors", () => {
  const cases: { name: string; code: number; body: unknown; check: (err: unknown) => boolean; method?: "get" | "create" | "patch" | "delete" }[] = [
    {
      name: "404 on a pod → NotFound with MULTUS_ERR_POD_NOT_FOUND (CNI 3)",
      code: 404,
      body: status(404, "NotFound", 'pods "web" not found', { name: "web", kind: "pods" }),
      check: (err) => {
        assert.ok(isNotFound(err));
        assert.equal(err.code, 3);
        return isKubeError("MULTUS_ERR_POD_NOT_FOUND", 404, /^get Pod ns1\/web: 404 NotFound: Pod ns1\/web does not exist$/)(err);
      },
    },
    {
      name: "403 from RBAC names verb, resource, namespace and user",
      code: 403,
      body: status(403, "Forbidden", 'pods "web" is forbidden: User "system:serviceaccount:kube-system:multus" cannot delete resource "pods" in API group "" in the namespace "ns1"', { name: "web", kind: "pods" }),
      method: "delete",
      check: (err) => {
        assert.ok(isForbidden(err));
        return isKubeError("MULTUS_ERR_API_FORBIDDEN", 403, /^delete Pod ns1\/web: 403 Forbidden: RBAC denies delete pods in namespace ns1 to system:serviceaccount:kube-system:multus: apply deploy\/rbac/)(err);
      },
    },
    {
      name: "403 that is not RBAC (a terminating namespace) keeps the API's message",
      code: 403,
      body: status(403, "Forbidden", "events is forbidden: unable to create new content in namespace ns1 because it is being terminated"),
      method: "create",
      check: (err) => isKubeError("MULTUS_ERR_API_FORBIDDEN", 403, /^create Pod ns1\/web: 403 Forbidden: events is forbidden: unable to create new content in namespace ns1 because it is being terminated$/)(err),
    },
    {
      name: "409 Conflict → KubeConflictError",
      code: 409,
      body: status(409, "Conflict", 'Operation cannot be fulfilled on pods "web": the object has been modified'),
      method: "patch",
      check: (err) => {
        assert.ok(isConflict(err));
        assert.ok(!isAlreadyExists(err));
        return isKubeError("MULTUS_ERR_API", 409, /^patch Pod ns1\/web: 409 Conflict: Operation cannot be fulfilled/)(err);
      },
    },
    {
      name: "409 AlreadyExists → KubeConflictError with reason AlreadyExists",
      code: 409,
      body: status(409, "AlreadyExists", 'pods "web" already exists', { name: "web", kind: "pods" }),
      method: "create",
      check: (err) => {
        assert.ok(isAlreadyExists(err));
        return isKubeError("MULTUS_ERR_API", 409, /already exists/)(err);
      },
    },
    {
      name: "410 → KubeGoneError",
      code: 410,
      body: status(410, "Expired", "The provided continue parameter is too old"),
      check: (err) => {
        assert.ok(isGone(err));
        return isKubeError("MULTUS_ERR_API", 410, /410 Expired: The provided continue parameter is too old: list again/)(err);
      },
    },
    {
      name: "422 Invalid keeps Status.message",
      code: 422,
      body: status(422, "Invalid", 'Pod "web" is invalid: metadata.annotations: Invalid value: "x"'),
      method: "patch",
      check: (err) => isKubeError("MULTUS_ERR_API", 422, /^patch Pod ns1\/web: 422 Invalid: Pod "web" is invalid: metadata\.annotations/)(err),
    },
    {
      name: "a non-JSON error page (a proxy) is quoted on one line",
      code: 502,
      body: "<html>\n<body>Bad Gateway</body>\n</html>",
      check: (err) => isKubeError("MULTUS_ERR_API", 502, /^get Pod ns1\/web: 502 BadGateway: <html> <body>Bad Gateway<\/body> <\/html>: the API server is overloaded or unhealthy/)(err),
    },
  ];
  for (const tc of cases) {
    test(tc.name, async () => {
      const srv = await serve((_req, res) => {
        if (typeof tc.body === "string") {
          res.writeHead(tc.code, { "Content-Type": "text/html" });
          res.end(tc.body);
        } else json(res, tc.code, tc.body);
      });
      const c = client(srv, {}, { retry: { attempts: 1, baseDelayMs: 1, maxDelayMs: 1 } });
      try {
        const call =
          tc.method === "delete" ? c.delete(POD_PATH) : tc.method === "create" ? c.create(POD_PATH, {}) : tc.method === "patch" ? c.patch(POD_PATH, {}, "merge") : c.get(POD_PATH);
        await assert.rejects(call, tc.check);
      } finally {
        c.close();
        await srv.close();
      }
    });
  }
});

describe("watch", () => {
  const event = (type: string, name: string, rv: string): string => JSON.stringify({ type, object: { kind: "Pod", metadata: { name, resourceVersion: rv } } }) + "\n";

  test("chunked JSON lines, split anywhere, become typed events; BOOKMARKs carry the resourceVersion; the stream's end ends the iteration", async () => {
    const srv = await serve(async (_req, res) => {
      res.writeHead(200, { "Content-Type": "application/json" });
      const stream = event("ADDED", "a", "11") + event("MODIFIED", "a", "12") + JSON.stringify({ type: "BOOKMARK", object: { kind: "Pod", metadata: { resourceVersion: "15" } } }) + "\n" + event("DELETED", "a", "16");
      // Cut the stream at awkward places: inside keys, values and between a line and its newline.
      let from = 0;
      for (const cut of [5, 40, 41, 90, 150]) {
        res.write(stream.slice(from, cut));
        from = cut;
        await new Promise((r) => setTimeout(r, 5));
      }
      res.end(stream.slice(from));
    });
    const c = client(srv);
    try {
      const got: WatchEvent<unknown>[] = [];
      for await (const ev of c.watch("/api/v1/namespaces/ns1/pods", { resourceVersion: "10", timeoutSeconds: 30 })) got.push(ev);
      assert.deepEqual(
        got.map((e) => [e.type, e.resourceVersion]),
        [
          ["ADDED", "11"],
          ["MODIFIED", "12"],
          ["BOOKMARK", "15"],
          ["DELETED", "16"],
        ],
      );
      const q = new URL(srv.requests[0]?.url ?? "", "http://x").searchParams;
      assert.equal(q.get("watch"), "true");
      assert.equal(q.get("resourceVersion"), "10");
      assert.equal(q.get("allowWatchBookmarks"), "true");
      assert.equal(q.get("timeoutSeconds"), "30");
    } finally {
      c.close();
      await srv.close();
    }
  });

  test("a multi-byte character split across chunks survives", async () => {
    const srv = await serve(async (_req, res) => {
      res.writeHead(200);
      const bytes = Buffer.from(event("ADDED", "café-🚀", "5"));
      const at = bytes.indexOf(Buffer.from("🚀")) + 2; // inside the 4-byte sequence
      res.write(bytes.subarray(0, at));
      await new Promise((r) => setTimeout(r, 10));
      res.end(bytes.subarray(at));
    });
    const c = client(srv);
    try {
      const names: unknown[] = [];
      for await (const ev of c.watch("/api/v1/pods")) if (ev.type !== "BOOKMARK") names.push((ev.object as { metadata: { name: string } }).metadata.name);
      assert.deepEqual(names, ["café-🚀"]);
    } finally {
      c.close();
      await srv.close();
    }
  });

  test("an ERROR event with 410 (too old resourceVersion) throws the typed Gone error", async () => {
    const srv = await serve((_req, res) => {
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end(JSON.stringify({ type: "ERROR", object: status(410, "Expired", "too old resource version: 1 (261)") }) + "\n");
    });
    const c = client(srv);
    try {
      await assert.rejects(
        async () => {
          for await (const _ of c.watch("/apis/k8s.cni.cncf.io/v1/network-attachment-definitions", { resourceVersion: "1" })) assert.fail("no event expected");
        },
        (err: unknown) => {
          assert.ok(isGone(err));
          return isKubeError("MULTUS_ERR_API", 410, /^watch NetworkAttachmentDefinitions: 410 Expired: too old resource version: 1 \(261\)/)(err);
        },
      );
    } finally {
      c.close();
      await srv.close();
    }
  });

  test("decoders apply to ADDED/MODIFIED/DELETED objects, not to bookmarks", async () => {
    const srv = await serve((_req, res) => {
      res.writeHead(200);
      res.end(event("ADDED", "a", "2") + JSON.stringify({ type: "BOOKMARK", object: { metadata: { resourceVersion: "3" } } }) + "\n");
    });
    const c = client(srv);
    try {
      const names: string[] = [];
      const decode = (v: unknown): { name: string } => {
        const name = (v as { metadata?: { name?: unknown } }).metadata?.name;
        if (typeof name !== "string") throw new TypeError("no name");
        return { name };
      };
      for await (const ev of c.watch("/api/v1/pods", { decode })) names.push(ev.type === "BOOKMARK" ? `bookmark@${ev.resourceVersion}` : ev.object.name);
      assert.deepEqual(names, ["a", "bookmark@3"]);
    } finally {
      c.close();
      await srv.close();
    }
  });

  test("no byte for idleTimeoutMs → KubeWatchIdleError, the connection is closed", async () => {
    let closed = false;
    const srv = await serve((req, res) => {
      res.writeHead(200);
      res.write(event("ADDED", "a", "2"));
      req.socket.on("close", () => (closed = true));
    });
    const c = client(srv);
    try {
      const seen: string[] = [];
      const t0 = performance.now();
      await assert.rejects(
        async () => {
          for await (const ev of c.watch("/api/v1/pods", { idleTimeoutMs: 200 })) seen.push(ev.type);
        },
        (err: unknown) => {
          assert.ok(isWatchIdle(err));
          return isKubeError("MULTUS_ERR_API", undefined, /^watch Pods: no event or bookmark for 200 ms/)(err);
        },
      );
      assert.deepEqual(seen, ["ADDED"]);
      assert.ok(performance.now() - t0 >= 190);
      await new Promise((r) => setTimeout(r, 50));
      assert.ok(closed, "the server saw the connection close");
    } finally {
      c.close();
      await srv.close();
    }
  });

  test("aborting the signal ends the iteration quietly; breaking out closes the stream", async () => {
    const srv = await serve((_req, res) => {
      res.writeHead(200);
      res.write(event("ADDED", "a", "2"));
    });
    const c = client(srv);
    try {
      const ac = new AbortController();
      const got: string[] = [];
      for await (const ev of c.watch("/api/v1/pods", { signal: ac.signal })) {
        got.push(ev.type);
        setTimeout(() => {
          ac.abort();
        }, 20);
      }
      assert.deepEqual(got, ["ADDED"]);
      for await (const ev of c.watch("/api/v1/pods")) {
        assert.equal(ev.type, "ADDED");
        break;
      }
    } finally {
      c.close();
      await srv.close();
    }
  });

  test("a watch that cannot open gets the same retries and errors as a GET", async () => {
    const srv = await serve((_req, res, _seen, i) => {
      if (i === 0) json(res, 503, status(503, "ServiceUnavailable", "starting"));
      else json(res, 403, status(403, "Forbidden", 'pods is forbidden: User "system:anonymous" cannot watch resource "pods" in API group "" at the cluster scope'));
    });
    const c = client(srv);
    try {
      await assert.rejects(
        async () => {
          for await (const _ of c.watch("/api/v1/pods")) assert.fail("no event expected");
        },
        isKubeError("MULTUS_ERR_API_FORBIDDEN", 403, /^watch Pods: 403 Forbidden: RBAC denies watch pods to system:anonymous/),
      );
      assert.equal(srv.requests.length, 2);
    } finally {
      c.close();
      await srv.close();
    }
  });
});

describe("TLS", () => {
  let pki = "";
  const pem: Record<string, Buffer> = {};
  before(async () => {
    pki = join(dir, "pki");
    const openssl = (args: string[]): Promise<unknown> => execFileP("openssl", args, { cwd: pki, timeout: 30_000 });
    await mkdir(pki, { recursive: true });
    const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    await openssl(["req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.crt", "-subj", "/CN=mt-test-ca", "-days", "1"]);
    await writeFile(join(pki, "server.ext"), "subjectAltName=IP:127.0.0.1,DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\n");
    await writeFile(join(pki, "client.ext"), "extendedKeyUsage=clientAuth\n");
    for (const [name, cn] of [["server", "/CN=apiserver"], ["client", "/CN=system:admin/O=system:masters"]] as const) {
      await openssl(["req", ...ec, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", cn]);
      await openssl(["x509", "-req", "-in", `${name}.csr`, "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", `${name}.crt`, "-days", "1", "-extfile", `${name}.ext`]);
    }
    for (const f of ["ca.crt", "server.crt", "server.key", "client.crt", "client.key"]) pem[f] = await readFile(join(pki, f));
  });

  const need = (f: string): Buffer => {
    const b = pem[f];
    if (b === undefined) throw new Error(`missing ${f}`);
    return b;
  };

  for (const h2 of [false, true]) {
    describe(h2 ? "a server offering HTTP/2 (ALPN h2)" : "an HTTP/1.1-only server", () => {
    test("verifies the server with the kubeconfig's CA and presents the client certificate (mutual TLS)", async () => {
        const srv = await serve(
          (req, res) => {
            assert.ok(req.socket instanceof TLSSocket);
            const peer = req.socket.getPeerCertificate();
            json(res, 200, { cn: peer.subject.CN });
          },
          { cert: need("server.crt"), key: need("server.key"), ca: need("ca.crt"), requestCert: true, rejectUnauthorized: true },
          h2,
        );
        const c = new KubeClient({ server: new URL(srv.url), insecureSkipTlsVerify: false, ca: need("ca.crt"), cert: need("client.crt"), key: need("client.key") }, fast);
        try {
          assert.deepEqual(await c.get("/version"), { cn: "system:admin" });
        } finally {
          c.close();
          await srv.close();
        }
      });

      test("tls-server-name verifies against that name", async () => {
        const srv = await serve(
          (_req, res) => {
            json(res, 200, {});
          },
          { cert: need("server.crt"), key: need("server.key") },
          h2,
        );
        // The URL host is a name the certificate does not carry; tls-server-name supplies one it does.
        const url = new URL(srv.url.replace("127.0.0.1", "localhost"));
        const c = new KubeClient({ server: url, insecureSkipTlsVerify: false, ca: need("ca.crt"), tlsServerName: "kubernetes.default.svc" }, fast);
        try {
          assert.deepEqual(await c.get("/version"), {});
        } finally {
          c.close();
          await srv.close();
        }
      });

      test("a server the CA did not sign fails at once with a TLS message (never retried)", async () => {
        const srv = await serve(
          (_req, res) => {
            json(res, 200, {});
          },
          { cert: need("server.crt"), key: need("server.key") },
          h2,
        );
        const c = new KubeClient({ server: new URL(srv.url), insecureSkipTlsVerify: false }, fast);
        try {
          await assert.rejects(c.get(POD_PATH), isKubeError("MULTUS_ERR_API", undefined, /^get Pod ns1\/web: TLS with https:\/\/127\.0\.0\.1:\d+ failed: .*: check the certificate-authority/));
          assert.equal(srv.requests.length, 0);
          assert.equal(srv.connections(), 0, "the handshake never completed");
        } finally {
          c.close();
          await srv.close();
        }
      });

      test("insecure-skip-tls-verify accepts any server certificate", async () => {
        const srv = await serve(
          (_req, res) => {
            json(res, 200, { ok: true });
          },
          { cert: need("server.crt"), key: need("server.key") },
          h2,
        );
        const c = new KubeClient({ server: new URL(srv.url), insecureSkipTlsVerify: true }, fast);
        try {
          assert.deepEqual(await c.get("/version"), { ok: true });
        } finally {
          c.close();
          await srv.close();
        }
      });

      test(`the connection speaks ${h2 ? "HTTP/2" : "HTTP/1.1"}, and concurrent requests ${h2 ? "share one TLS connection" : "each take a keep-alive connection"}`, async () => {
        const srv = await serve(
          async (req, res) => {
            await new Promise((r) => setTimeout(r, 30));
            json(res, 200, { version: req.httpVersion });
          },
          { cert: need("server.crt"), key: need("server.key") },
          h2,
        );
        const c = new KubeClient({ server: new URL(srv.url), insecureSkipTlsVerify: false, ca: need("ca.crt") }, fast);
        try {
          const got = await Promise.all([1, 2, 3, 4].map(() => c.get("/version")));
          assert.deepEqual(got, Array(4).fill({ version: h2 ? "2.0" : "1.1" }));
          assert.equal(c.protocol(), h2 ? "h2" : "http/1.1");
          // HTTP/1.1: a connection per concurrent request (and the TLS probe that offered h2, which
          // the server may or may not count as established before the client closes it).
          const opened = srv.connections();
          if (h2) assert.equal(opened, 1);
          else assert.ok(opened >= 4 && opened <= 5, `${String(opened)} connections`);
          await c.get("/version");
          assert.equal(srv.connections(), opened, "a later request reuses a connection");
        } finally {
          c.close();
          await srv.close();
        }
      });
    });
  }

  describe("HTTP/2 sessions", () => {
    const h2Server = (handler: Handler): Promise<Loopback> => serve(handler, { cert: need("server.crt"), key: need("server.key") }, true);
    const h2Client = (srv: Loopback): KubeClient => new KubeClient({ server: new URL(srv.url), insecureSkipTlsVerify: false, ca: need("ca.crt") }, fast);

    test("a stream the server refuses (REFUSED_STREAM: never processed) is sent again, even a POST", async () => {
      const srv = await h2Server((req, res, _seen, i) => {
        if (i === 0) (req as unknown as http2.Http2ServerRequest).stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
        else json(res, 201, { made: i });
      });
      const c = h2Client(srv);
      try {
        assert.deepEqual(await c.create("/api/v1/namespaces/ns1/events", { reason: "X" }), { made: 1 });
        assert.equal(srv.requests.length, 2);
      } finally {
        c.close();
        await srv.close();
      }
    });

    test("a session the server closes (GOAWAY) is replaced by a new one for the next request", async () => {
      const srv = await h2Server((req, res, _seen, i) => {
        const session = (req as unknown as http2.Http2ServerRequest).stream.session;
        json(res, 200, { i });
        // After answering, the server says it takes no more streams on this connection.
        if (i === 0) {
          res.on("finish", () => {
            session?.goaway(http2.constants.NGHTTP2_NO_ERROR);
            session?.close();
          });
        }
      });
      const c = h2Client(srv);
      try {
        assert.deepEqual(await c.get("/version"), { i: 0 });
        await new Promise((r) => setTimeout(r, 50));
        assert.deepEqual(await c.get("/version"), { i: 1 });
        assert.equal(srv.connections(), 2, "the second request came on a new connection");
      } finally {
        c.close();
        await srv.close();
      }
    });

    test("a watch streams over HTTP/2 alongside other requests on the same connection", async () => {
      const srv = await h2Server(async (req, res) => {
        if (!(req.url ?? "").includes("watch=true")) {
          json(res, 200, { kind: "Pod", metadata: { name: "p" } });
          return;
        }
        res.writeHead(200, { "Content-Type": "application/json" });
        for (const name of ["a", "b"]) {
          res.write(JSON.stringify({ type: "ADDED", object: { kind: "Pod", metadata: { name, resourceVersion: "2" } } }) + "\n");
          await new Promise((r) => setTimeout(r, 20));
        }
        res.end();
      });
      const c = h2Client(srv);
      try {
        const names: string[] = [];
        const watching = (async () => {
          for await (const ev of c.watch("/api/v1/pods")) if (ev.type !== "BOOKMARK") names.push((ev.object as { metadata: { name: string } }).metadata.name);
        })();
        assert.deepEqual(await c.get("/api/v1/namespaces/ns1/pods/p"), { kind: "Pod", metadata: { name: "p" } });
        await watching;
        assert.deepEqual(names, ["a", "b"]);
        assert.equal(srv.connections(), 1);
      } finally {
        c.close();
        await srv.close();
      }
    });
  });
});
