// Runs the real dist/bin/multus-daemon for a test: inside the test's node network namespace, with a
// daemon config the test writes, its stderr (JSON log lines) kept in a file. Only the process started
// here is ever signalled, by its PID.
//
// Exported API:
//   startDaemon(opts): Promise<TestDaemon>   resolves once /readyz answers 200 (or rejects with the log)
//   socketGet(socketPath, path): Promise<{ status, body }>   a GET over the unix socket (as curl --unix-socket)
//   postDelegate(socketPath, body): Promise<{ status, body }> a POST /delegate, as multus-dynamic-networks-controller sends it
//   interface TestDaemon { pid, socketPath, configPath, log(), stop(signal?), exited }
import { spawn } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { request } from "node:http";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { openSync, closeSync } from "node:fs";
import { binPath } from "./run-executable.ts";

export interface TestDaemonOptions {
  /** Network namespace to run in (the bed's node); undefined: the test's own. */
  netns?: string;
  /** State directory: the config file and the log go here. */
  dir: string;
  config: Record<string, unknown>;
  nodeName: string;
  /** More environment (e.g. NODE_OPTIONS). */
  env?: Record<string, string>;
  /** Wait for /readyz 200 (default true). */
  waitReady?: boolean;
  readyTimeoutMs?: number;
}

export interface TestDaemon {
  pid: number;
  socketPath: string;
  configPath: string;
  /** The daemon's log so far. */
  log(): Promise<string>;
  /** Signal the daemon (default SIGTERM) and wait for it to exit (SIGKILL after `graceMs`). */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

let seq = 0;

export async function startDaemon(o: TestDaemonOptions): Promise<TestDaemon> {
  const n = ++seq;
  const configPath = join(o.dir, `daemon-config-${String(n)}.json`);
  const logPath = join(o.dir, `daemon-${String(n)}.log`);
  await writeFile(configPath, JSON.stringify(o.config, null, 2));
  const socketDir = typeof o.config["socketDir"] === "string" ? o.config["socketDir"] : "/run/multus";
  const socketPath = join(socketDir, "multus.sock");
  const bin = binPath("multus-daemon");
  const [cmd, args] = o.netns === undefined ? [bin, ["--config", configPath]] : ["ip", ["netns", "exec", o.netns, bin, "--config", configPath]];
  const logFd = openSync(logPath, "a");
  const child = spawn(cmd, args, {
    env: { PATH: process.env["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin", MULTUS_NODE_NAME: o.nodeName, ...o.env },
    stdio: ["ignore", logFd, logFd],
  });
  closeSync(logFd);
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${bin} did not start`);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on("exit", (code, signal) => {
      resolve({ code, signal });
    });
  });
  const state = { gone: false };
  void exited.then(() => {
    state.gone = true;
  });
  const daemon: TestDaemon = {
    pid,
    socketPath,
    configPath,
    log: () => readFile(logPath, "utf8").catch(() => ""),
    async stop(signal = "SIGTERM", graceMs = 30_000) {
      if (!state.gone) process.kill(pid, signal);
      const timer = setTimeout(() => {
        if (!state.gone) process.kill(pid, "SIGKILL");
      }, graceMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
    exited,
  };
  if (o.waitReady === false) return daemon;
  const deadline = Date.now() + (o.readyTimeoutMs ?? 30_000);
  for (;;) {
    if (state.gone) throw new Error(`multus-daemon exited before it was ready:\n${await daemon.log()}`);
    const r = await socketGet(socketPath, "/readyz").catch(() => undefined);
    if (r?.status === 200) return daemon;
    if (Date.now() > deadline) {
      await daemon.stop("SIGKILL");
      throw new Error(`multus-daemon not ready within ${String(o.readyTimeoutMs ?? 30_000)} ms:\n${await daemon.log()}`);
    }
    await sleep(50);
  }
}

export function socketGet(socketPath: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, method: "GET", timeout: 5000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (body += d));
      res.on("end", () => {
        resolve({ status: res.statusCode ?? 0, body });
      });
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end();
  });
}

/** A POST to the daemon's socket, as multus-dynamic-networks-controller sends it. */
export function postDelegate(socketPath: string, body: unknown): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const payload = JSON.stringify(body);
    const req = request({ socketPath, path: "/delegate", method: "POST", headers: { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(payload) } }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (text += d));
      res.on("end", () => {
        resolve({ status: res.statusCode ?? 0, body: text });
      });
    });
    req.on("error", reject);
    req.end(payload);
  });
}
