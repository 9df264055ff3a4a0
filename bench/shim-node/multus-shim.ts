// Not product code: the Node counterpart of src/shim/multus-shim.c, only for bench/shim-startup.ts,
// to measure what a Node single executable shim would cost per CNI call. Same request flow as the C
// shim (VERSION locally; GET /readyz every 100 ms; POST /cni with env and base64 stdin; print the
// Result), without its error handling, DEL fallback and limits.
import { request } from "node:http";

const VERSION = '{"cniVersion":"1.1.0","supportedVersions":["0.1.0","0.2.0","0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"]}';

interface Answer {
  status: number;
  body: string;
}

function exchange(socketPath: string, method: string, path: string, body: string | undefined, timeoutMs: number): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { Host: "multus", Connection: "close" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      headers["Content-Length"] = Buffer.byteLength(body);
    }
    const req = request({ socketPath, method, path, headers, signal: AbortSignal.timeout(timeoutMs) }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") });
      });
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

function cniError(cniVersion: string, code: number, msg: string): number {
  process.stdout.write(`${JSON.stringify({ cniVersion, code, msg })}\n`);
  return 1;
}

async function main(): Promise<number> {
  const stdin = await readStdin();
  const command = process.env["CNI_COMMAND"] ?? "";
  if (command === "VERSION") {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const config = JSON.parse(stdin.toString("utf8")) as Record<string, unknown>;
  const cniVersion = typeof config["cniVersion"] === "string" ? config["cniVersion"] : "1.1.0";
  const dir = typeof config["daemonSocketDir"] === "string" ? config["daemonSocketDir"] : "/run/multus/";
  const socketPath = `${dir.replace(/\/+$/, "")}/multus.sock`;
  const seconds = (key: string, fallback: number): number => (typeof config[key] === "number" ? config[key] : fallback);

  if (command !== "DEL") {
    const deadline = Date.now() + seconds("daemonReadyTimeoutSeconds", 60) * 1000;
    for (;;) {
      const ready = await exchange(socketPath, "GET", "/readyz", undefined, 1000).catch(() => undefined);
      if (ready?.status === 200) break;
      if (Date.now() >= deadline) return cniError(cniVersion, 11, `multus-daemon is not ready at ${socketPath}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  const budgetMs = (seconds("operationTimeoutSeconds", 90) + seconds("rollbackTimeoutSeconds", 20) + 10) * 1000;
  const answer = await exchange(socketPath, "POST", "/cni", JSON.stringify({ env, config: stdin.toString("base64") }), budgetMs);
  if (answer.status !== 200) {
    process.stdout.write(`${answer.body}\n`);
    return 1;
  }
  if (command === "ADD" && answer.body.trim() !== "") {
    const result = (JSON.parse(answer.body) as Record<string, unknown>)["Result"];
    if (result !== undefined && result !== null) process.stdout.write(`${JSON.stringify(result)}\n`);
  }
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.exitCode = cniError("1.1.0", 999, String(err));
  },
);
