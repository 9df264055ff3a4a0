// A unary gRPC call over HTTP/2 on a unix socket (the kubelet's PodResources endpoint), without a gRPC
// library: one POST with a length-prefixed message, the answer's message and the grpc-status trailer.
// Protocol: https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md (facts only).
import { connect as http2Connect, constants, type IncomingHttpHeaders } from "node:http2";
import { connect as netConnect } from "node:net";

/** A call that ended with a non-zero grpc-status, or did not complete. */
export class GrpcError extends Error {
  /** The gRPC status code (12 Unimplemented, 14 Unavailable, 8 ResourceExhausted, …); 14 when no answer came. */
  readonly status: number;
  constructor(status: number, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "GrpcError";
    this.status = status;
  }
}

export const GRPC_UNAVAILABLE = 14;
export const GRPC_UNIMPLEMENTED = 12;
/** Bigger answers are refused (a List of every pod on a node is a few hundred KiB at most). */
const MAX_MESSAGE = 16 * 1024 * 1024;

function frame(message: Uint8Array): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(message.length, 1);
  return Buffer.concat([head, message]);
}

/** `path` is `/<package>.<Service>/<Method>`; resolves to the answer's message bytes. */
export function grpcUnary(socketPath: string, path: string, request: Uint8Array, signal: AbortSignal): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const session = http2Connect("http://localhost", { createConnection: () => netConnect(socketPath) });
    let settled = false;
    const finish = (err: Error | undefined, value?: Uint8Array): void => {
      if (settled) return;
      settled = true;
      signal.removeEventListener("abort", onAbort);
      session.close();
      session.destroy();
      if (err !== undefined) reject(err);
      else resolve(value ?? new Uint8Array());
    };
    const onAbort = (): void => {
      finish(new GrpcError(4, `${path} on ${socketPath}: no answer before the deadline`));
    };
    if (signal.aborted) {
      onAbort();
      return;
    }
    signal.addEventListener("abort", onAbort, { once: true });
    session.on("error", (err: Error) => {
      finish(new GrpcError(GRPC_UNAVAILABLE, `${path} on ${socketPath}: cannot connect: ${err.message}`, { cause: err }));
    });
    const stream = session.request({
      [constants.HTTP2_HEADER_METHOD]: "POST",
      [constants.HTTP2_HEADER_PATH]: path,
      [constants.HTTP2_HEADER_CONTENT_TYPE]: "application/grpc",
      te: "trailers",
    });
    const chunks: Buffer[] = [];
    let size = 0;
    let headerStatus: { status?: string | undefined; message?: string | undefined } = {};
    let httpStatus: number | undefined;
    stream.on("response", (headers) => {
      const st: unknown = headers[":status"];
      httpStatus = typeof st === "number" ? st : Number(st);
      // A trailers-only answer puts grpc-status in the headers.
      headerStatus = { status: headerValue(headers["grpc-status"]), message: headerValue(headers["grpc-message"]) };
    });
    stream.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_MESSAGE + 5) {
        stream.close(constants.NGHTTP2_CANCEL);
        finish(new GrpcError(8, `${path} on ${socketPath}: answer larger than ${String(MAX_MESSAGE)} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    let trailers: { status?: string | undefined; message?: string | undefined } = {};
    stream.on("trailers", (t: IncomingHttpHeaders) => {
      trailers = { status: headerValue(t["grpc-status"]), message: headerValue(t["grpc-message"]) };
    });
    stream.on("error", (err: Error) => {
      // A socket that cannot be reached cancels the stream first; the session's error says why.
      setImmediate(() => {
        finish(new GrpcError(GRPC_UNAVAILABLE, `${path} on ${socketPath}: ${err.message}`, { cause: err }));
      });
    });
    stream.on("close", () => {
      const status = trailers.status ?? headerStatus.status;
      const message = percentDecoded(trailers.message ?? headerStatus.message ?? "");
      if (status === undefined) {
        if (httpStatus !== undefined && httpStatus !== 200) {
          // Not a gRPC answer: the status code the HTTP status maps to (gRPC's http-grpc-status-mapping).
          finish(new GrpcError(grpcStatusOfHttp(httpStatus), `${path} on ${socketPath}: HTTP status ${String(httpStatus)} without a grpc-status`));
          return;
        }
        // Also what a socket that cannot be reached looks like at first; the session's error says why.
        setImmediate(() => {
          finish(new GrpcError(GRPC_UNAVAILABLE, `${path} on ${socketPath}: the stream ended without a grpc-status`));
        });
        return;
      }
      if (status !== "0") {
        finish(new GrpcError(Number(status), `${path} on ${socketPath}: ${message === "" ? `grpc-status ${status}` : message}`));
        return;
      }
      const body = Buffer.concat(chunks);
      if (body.length < 5) {
        finish(new GrpcError(13, `${path} on ${socketPath}: an answer without a message`));
        return;
      }
      if (body[0] !== 0) {
        finish(new GrpcError(12, `${path} on ${socketPath}: a compressed answer (not requested)`));
        return;
      }
      const length = body.readUInt32BE(1);
      if (body.length !== 5 + length) {
        finish(new GrpcError(13, `${path} on ${socketPath}: the answer's length prefix (${String(length)}) does not match its ${String(body.length - 5)} bytes`));
        return;
      }
      finish(undefined, body.subarray(5));
    });
    stream.end(frame(request));
  });
}

/** gRPC's mapping of an HTTP status without grpc-status. */
export function grpcStatusOfHttp(http: number): number {
  if (http === 400) return 13;
  if (http === 401) return 16;
  if (http === 403) return 7;
  if (http === 404) return GRPC_UNIMPLEMENTED;
  if (http === 429 || http === 502 || http === 503 || http === 504) return GRPC_UNAVAILABLE;
  return 2;
}

/** grpc-message is percent-encoded; a malformed one is shown as sent. */
function percentDecoded(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}
