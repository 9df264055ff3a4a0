// dist/bin/multus-shim (src/shim/multus-shim.c), the real static executable, driven as a runtime runs
// a CNI plugin. A node:http server on a unix socket in a temp dir plays multus-daemon, so that each
// test decides what the daemon answers (or that it does not); the real daemon and the shim together
// are tested with the daemon's own tests. The local DEL fallback runs a stand-in `multus` script put
// next to a copy of the shim. A small C launcher compiled here (gcc) runs the shim without pidfd_open
// (a seccomp filter) or measures its peak RSS. Build first: node scripts/build.ts multus-shim.
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, readFileSync } from "node:fs";
import { mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createNetServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { after, test } from "node:test";
import { promisify } from "node:util";
import { binPath } from "../helpers/run-executable.ts";

const execFileAsync = promisify(execFile);

const cniEnv = { CNI_CONTAINERID: "c0ffee", CNI_NETNS: "/run/netns/pod", CNI_IFNAME: "eth0", CNI_PATH: "/opt/cni/bin", CNI_ARGS: "K8S_POD_NAME=p" };

interface Received {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  body: Buffer;
}

interface FakeDaemon {
  dir: string;
  socketPath: string;
  received: Received[];
  /** The POST /cni requests, without the /readyz probes. */
  cniRequests(): Received[];
  close(): Promise<void>;
}

type Handler = (r: Received, res: ServerResponse, req: IncomingMessage) => void;

/** Answers /readyz with 200 unless `readyz` says otherwise; every request is recorded before `cni` runs. */
async function startFakeDaemon(cni: Handler, readyz: Handler = (_r, res) => res.end("ok")): Promise<FakeDaemon> {
  const dir = await mkdtemp(join(tmpdir(), "mt-shim-"));
  const socketPath = join(dir, "multus.sock");
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const r = { method: req.method ?? "", url: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks) };
      received.push(r);
      (r.url === "/readyz" ? readyz : cni)(r, res, req);
    });
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  return {
    dir,
    socketPath,
    received,
    cniRequests: () => received.filter((r) => r.url !== "/readyz"),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      });
      await rm(dir, { recursive: true, force: true });
    },
  };
}

interface ShimRun {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Run the shim (or a copy of it) with env + stdin; PATH only besides, as a runtime would pass. */
function runShim(opts: { env: Record<string, string>; stdin: string | Buffer; bin?: string; argv?: string[] }): Promise<ShimRun> {
  const started = performance.now();
  const [cmd, args] = opts.argv === undefined ? [opts.bin ?? binPath("multus-shim"), []] : [opts.argv[0] ?? "", opts.argv.slice(1)];
  const child = spawn(cmd, args, {
    env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", ...opts.env },
    stdio: ["pipe", "pipe", "pipe"],
    signal: AbortSignal.timeout(30_000),
  });
  return new Promise((resolve, reject) => {
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      resolve({ code: code ?? -1, stdout, stderr, ms: performance.now() - started });
    });
    // The shim may stop reading (over 4 MiB): EPIPE here is expected.
    child.stdin.on("error", () => undefined);
    child.stdin.end(opts.stdin);
  });
}

function json(r: ShimRun): Record<string, unknown> {
  try {
    return JSON.parse(r.stdout) as Record<string, unknown>;
  } catch {
    throw new Error(`stdout is not JSON (exit ${r.code}):\n${r.stdout}\nstderr:\n${r.stderr}`);
  }
}

const conf = (extra: Record<string, unknown>): string =>
  JSON.stringify({ cniVersion: "1.0.0", name: "multus-cni-network", type: "multus-shim", ...extra });

/** The POST /cni body the shim sent, decoded. */
function shimRequest(r: Received): { env: Record<string, string>; config: Buffer } {
  const body = JSON.parse(r.body.toString("utf8")) as { env: Record<string, string>; config: string };
  return { env: body.env, config: Buffer.from(body.config, "base64") };
}

test("VERSION is answered by the shim itself, with no daemon socket", async () => {
  const dir = await mkdtemp(join(tmpdir(), "mt-shim-"));
  try {
    for (const stdin of [conf({ daemonSocketDir: dir }), ""]) {
      const r = await runShim({ env: { CNI_COMMAND: "VERSION" }, stdin });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, '{"cniVersion":"1.1.0","supportedVersions":["0.1.0","0.2.0","0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"]}\n');
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("a missing or unknown CNI_COMMAND is code 4, in the config's version", async () => {
  const missing = await runShim({ env: {}, stdin: conf({}) });
  assert.equal(missing.code, 1);
  assert.deepEqual(json(missing), { cniVersion: "1.0.0", code: 4, msg: "required env variables [CNI_COMMAND] missing" });
  const unknown = await runShim({ env: { CNI_COMMAND: "NOPE" }, stdin: conf({}) });
  assert.equal(unknown.code, 1);
  assert.deepEqual(json(unknown), { cniVersion: "1.0.0", code: 4, msg: "unknown CNI_COMMAND: NOPE" });
  assert.match(unknown.stderr, /^multus-shim: unknown CNI_COMMAND: NOPE\n$/);
});

test("a config that is not JSON is code 6 saying where", async () => {
  const r = await runShim({ env: { CNI_COMMAND: "ADD", ...cniEnv }, stdin: '{"cniVersion":"1.0.0","a":[1,2}' });
  assert.equal(r.code, 1);
  const err = json(r);
  assert.equal(err["code"], 6);
  assert.equal(err["cniVersion"], "1.1.0");
  assert.equal(err["msg"], "config on stdin is not valid JSON: expected ',' or ']' after an array element at byte 30 (found '}')");
});

test("ADD waits for /readyz, sends the whole env and the exact stdin bytes, prints the daemon's Result byte for byte", async () => {
  // Spacing that re-encoding would lose: the shim must print this substring of the body as it is.
  const resultText = '{"cniVersion": "1.0.0", "interfaces": [{"name": "eth0", "sandbox": "/run/netns/pod"}], "ips": [{"address": "10.1.2.3/24", "interface": 0}]}';
  const daemon = await startFakeDaemon((_r, res) => {
    res.writeHead(200, { "Content-Type": "application/json" });
    res.end(`{"Result": ${resultText}, "later": {"Result": 1}}`);
  });
  try {
    const stdin = ` { "cniVersion" : "1.0.0", "name": "réseau-名前 😀", "type": "multus-shim", "daemonSocketDir": "${daemon.dir}/" }\n`;
    const extra = 'quote " backslash \\ newline \n tab \t ctl \x01 é 名 😀';
    const r = await runShim({ env: { CNI_COMMAND: "ADD", ...cniEnv, MT_EXTRA: extra }, stdin });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(r.stdout, `${resultText}\n`);
    assert.deepEqual(JSON.parse(r.stdout), JSON.parse(resultText));

    assert.deepEqual(daemon.received.map((x) => `${x.method} ${x.url}`), ["GET /readyz", "POST /cni"]);
    const post = daemon.received[1];
    assert.ok(post !== undefined);
    assert.equal(post.headers.host, "multus");
    assert.equal(post.headers["content-type"], "application/json");
    assert.equal(post.headers["content-length"], String(post.body.length));
    assert.equal(post.headers.connection, "close");
    const sent = shimRequest(post);
    assert.deepEqual(sent.config, Buffer.from(stdin, "utf8"));
    assert.deepEqual(sent.env, { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", CNI_COMMAND: "ADD", ...cniEnv, MT_EXTRA: extra });
  } finally {
    await daemon.close();
  }
});

test("env bytes that are not UTF-8 reach the daemon as U+FFFD, valid UTF-8 around them intact", async () => {
  const daemon = await startFakeDaemon((_r, res) => res.end());
  try {
    // Node can only pass strings (UTF-8) in an environment: printf in sh makes the raw bytes.
    const script = `MT_BYTES="$(printf 'a\\377b\\300\\257c\\355\\240\\200d\\303\\251')" exec "$0"`;
    const r = await runShim({ argv: ["/bin/sh", "-c", script, binPath("multus-shim")], env: { CNI_COMMAND: "CHECK", ...cniEnv }, stdin: conf({ daemonSocketDir: daemon.dir }) });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(r.stdout, "", "CHECK prints nothing");
    const post = daemon.cniRequests()[0];
    assert.ok(post !== undefined);
    // The request itself must be UTF-8 (Node would replace bad bytes while decoding and hide them).
    assert.doesNotThrow(() => new TextDecoder("utf-8", { fatal: true }).decode(post.body));
    // 0xff; an overlong "/" (c0 af); a UTF-16 surrogate (ed a0 80): one U+FFFD per byte; é as is.
    assert.equal(shimRequest(post).env["MT_BYTES"], "a\ufffdb\ufffd\ufffdc\ufffd\ufffd\ufffdd\u00e9");
  } finally {
    await daemon.close();
  }
});

test("a chunked answer is reassembled", async () => {
  const daemon = await startFakeDaemon((_r, res) => {
    res.writeHead(200, { "Content-Type": "application/json" });
    void (async () => {
      for (const piece of ['{"Res', 'ult":{"cniVersion":"1.0.0",', '"ips":[{"address":"10.9.9.9/24"}]', "}}"]) {
        res.write(piece);
        await sleep(20);
      }
      res.end();
    })().catch((err: unknown) => res.destroy(err as Error));
  });
  try {
    const r = await runShim({ env: { CNI_COMMAND: "ADD", ...cniEnv }, stdin: conf({ daemonSocketDir: daemon.dir }) });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(r.stdout, '{"cniVersion":"1.0.0","ips":[{"address":"10.9.9.9/24"}]}\n');
  } finally {
    await daemon.close();
  }
});

test("the daemon's CNI error (400 with code and msg) is printed verbatim, exit 1", async () => {
  const body = '{"cniVersion":"1.0.0","code":7,"msg":"network \\"blue\\" not found","details":"kubectl get net-attach-def blue"}';
  const daemon = await startFakeDaemon((_r, res) => {
    res.writeHead(400, { "Content-Type": "application/json" });
    res.end(body);
  });
  try {
    const r = await runShim({ env: { CNI_COMMAND: "ADD", ...cniEnv }, stdin: conf({ daemonSocketDir: daemon.dir }) });
    assert.equal(r.code, 1);
    assert.equal(r.stdout, `${body}\n`);
    assert.match(r.stderr, /multus-daemon answered HTTP 400 for ADD: network "blue" not found/);
  } finally {
    await daemon.close();
  }
});

test("an answer that is not a CNI error (500, text) is code 999 with the first 4 KiB of the body as details", async () => {
  const text = `boom "quoted"\n${"x".repeat(5000)}`;
  const daemon = await startFakeDaemon((_r, res) => {
    res.writeHead(500, { "Content-Type": "text/plain" });
    res.end(text);
  });
  try {
    const r = await runShim({ env: { CNI_COMMAND: "ADD", ...cniEnv }, stdin: conf({ daemonSocketDir: daemon.dir }) });
    assert.equal(r.code, 1);
    assert.deepEqual(json(r), { cniVersion: "1.0.0", code: 999, msg: "multus-daemon answered HTTP 500 for ADD", details: text.slice(0, 4096) });
  } finally {
    await daemon.close();
  }
});

test("ADD polls /readyz until the daemon is ready (here after 500 ms), then succeeds", async () => {
  const readyAt = performance.now() + 500;
  const daemon = await startFakeDaemon(
    (_r, res) => res.end('{"Result":{"cniVersion":"1.0.0"}}'),
    (_r, res) => {
      res.statusCode = performance.now() >= readyAt ? 200 : 503;
      res.end();
    },
  );
  try {
    const r = await runShim({ env: { CNI_COMMAND: "ADD", ...cniEnv }, stdin: conf({ daemonSocketDir: daemon.dir }) });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(r.stdout, '{"cniVersion":"1.0.0"}\n');
    const probes = daemon.received.filter((x) => x.url === "/readyz").length;
    assert.ok(probes >= 3 && probes <= 10, `${probes} probes, one per 100 ms expected`);
    assert.equal(daemon.cniRequests().length, 1);
    assert.ok(r.ms >= 450, `answered after ${r.ms} ms, before the daemon was ready`);
  } finally {
    await daemon.close();
  }
});

test("a daemon without /readyz (upstream's v4.x answers 404 there) is probed on /healthz instead", async () => {
  const daemon = await startFakeDaemon(
    (r, res) => {
      if (r.url === "/healthz") res.end();
      else res.end('{"Result":{"cniVersion":"1.0.0"}}');
    },
    (_r, res) => {
      res.statusCode = 404;
      res.end();
    },
  );
  try {
    const r = await runShim({ env: { CNI_COMMAND: "ADD", ...cniEnv }, stdin: conf({ daemonSocketDir: daemon.dir }) });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(r.stdout, '{"cniVersion":"1.0.0"}\n');
    assert.deepEqual(daemon.received.map((x) => x.url), ["/readyz", "/healthz", "/cni"]);
  } finally {
    await daemon.close();
  }
});

test("no daemon within daemonReadyTimeoutSeconds is code 11 naming the socket and what to check", async () => {
  const dir = await mkdtemp(join(tmpdir(), "mt-shim-"));
  try {
    const r = await runShim({ env: { CNI_COMMAND: "ADD", ...cniEnv }, stdin: conf({ daemonSocketDir: dir, daemonReadyTimeoutSeconds: 1 }) });
    assert.equal(r.code, 1);
    assert.deepEqual(json(r), {
      cniVersion: "1.0.0",
      code: 11,
      msg: `multus-daemon is not ready at ${dir}/multus.sock after 1 s (last: connect: No such file or directory): check the multus DaemonSet pod on this node (kubectl -n kube-system get pods -l app=multus -o wide; its logs)`,
    });
    assert.ok(r.ms >= 900 && r.ms < 5000, `gave up after ${r.ms} ms`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

/** A copy of the shim in a temp dir, optionally with a stand-in thin `multus` that records its call. */
async function shimWithLocalMultus(withMultus: boolean): Promise<{ dir: string; shim: string; out: string }> {
  const dir = await mkdtemp(join(tmpdir(), "mt-shim-bin-"));
  const shim = join(dir, "multus-shim");
  copyFileSync(binPath("multus-shim"), shim);
  chmodSync(shim, 0o755);
  const out = join(dir, "out");
  if (withMultus) {
    await writeFile(join(dir, "multus"), '#!/bin/sh\nenv > "$MT_OUT.env"\ncat > "$MT_OUT.stdin"\necho \'{"from":"local multus"}\'\nexit 3\n', { mode: 0o755 });
  }
  return { dir, shim, out };
}

test("DEL with no daemon socket runs the thin multus next to the shim: same env and stdin, its exit code", async () => {
  const bin = await shimWithLocalMultus(true);
  const sockDir = await mkdtemp(join(tmpdir(), "mt-shim-"));
  try {
    const stdin = conf({ daemonSocketDir: sockDir, note: "é 名 😀" });
    const r = await runShim({ bin: bin.shim, env: { CNI_COMMAND: "DEL", ...cniEnv, MT_OUT: bin.out }, stdin });
    assert.equal(r.code, 3, r.stdout + r.stderr);
    assert.equal(r.stdout, '{"from":"local multus"}\n');
    assert.equal(
      r.stderr,
      `multus-shim: multus-daemon unreachable at ${sockDir}/multus.sock (connect: No such file or directory); DEL runs locally through ${bin.dir}/multus\n`,
    );
    assert.deepEqual(await readFile(`${bin.out}.stdin`), Buffer.from(stdin));
    const env = (await readFile(`${bin.out}.env`, "utf8")).split("\n");
    for (const line of ["CNI_COMMAND=DEL", "CNI_CONTAINERID=c0ffee", "CNI_NETNS=/run/netns/pod", "CNI_IFNAME=eth0", `MT_OUT=${bin.out}`]) {
      assert.ok(env.includes(line), `${line} not in the local multus's env:\n${env.join("\n")}`);
    }
  } finally {
    await rm(bin.dir, { recursive: true, force: true });
    await rm(sockDir, { recursive: true, force: true });
  }
});

test("a shim installed as a symlink runs the multus next to the symlink (where the runtime ran it from), not next to its target", async () => {
  const bin = await shimWithLocalMultus(true);
  const real = await mkdtemp(join(tmpdir(), "mt-shim-real-"));
  const sockDir = await mkdtemp(join(tmpdir(), "mt-shim-"));
  try {
    // The shim's real file sits in a directory without `multus`; the runtime's bin dir has a symlink.
    await rm(bin.shim);
    copyFileSync(binPath("multus-shim"), join(real, "multus-shim"));
    chmodSync(join(real, "multus-shim"), 0o755);
    await symlink(join(real, "multus-shim"), bin.shim);
    const r = await runShim({ bin: bin.shim, env: { CNI_COMMAND: "DEL", ...cniEnv, MT_OUT: bin.out }, stdin: conf({ daemonSocketDir: sockDir }) });
    assert.equal(r.code, 3, r.stdout + r.stderr);
    assert.match(r.stderr, new RegExp(`DEL runs locally through ${bin.dir}/multus\n$`));
  } finally {
    await rm(bin.dir, { recursive: true, force: true });
    await rm(real, { recursive: true, force: true });
    await rm(sockDir, { recursive: true, force: true });
  }
});

test("DEL falls back to the local multus when the daemon closes the connection without answering", async () => {
  const bin = await shimWithLocalMultus(true);
  const daemon = await startFakeDaemon((_r, _res, req) => req.socket.destroy());
  try {
    const stdin = conf({ daemonSocketDir: daemon.dir });
    const r = await runShim({ bin: bin.shim, env: { CNI_COMMAND: "DEL", ...cniEnv, MT_OUT: bin.out }, stdin });
    assert.equal(r.code, 3, r.stdout + r.stderr);
    assert.match(r.stderr, /multus-daemon unreachable at \S+ \(connection (closed|reset) before a complete HTTP response, 0 bytes received(; send: [^)]+)?\); DEL runs locally/);
    assert.deepEqual(await readFile(`${bin.out}.stdin`), Buffer.from(stdin));
    assert.deepEqual(daemon.received.map((x) => `${x.method} ${x.url}`), ["POST /cni"], "DEL does not wait for /readyz");
  } finally {
    await daemon.close();
    await rm(bin.dir, { recursive: true, force: true });
  }
});

test("a daemon that answers a DEL is authoritative: its error is passed through, its success prints nothing; no fallback", async () => {
  const bin = await shimWithLocalMultus(true);
  let answer = { status: 400, body: '{"cniVersion":"1.0.0","code":11,"msg":"multus-daemon is at capacity"}' };
  const daemon = await startFakeDaemon((_r, res) => {
    res.statusCode = answer.status;
    res.end(answer.body);
  });
  try {
    const stdin = conf({ daemonSocketDir: daemon.dir });
    const failed = await runShim({ bin: bin.shim, env: { CNI_COMMAND: "DEL", ...cniEnv, MT_OUT: bin.out }, stdin });
    assert.equal(failed.code, 1);
    assert.equal(failed.stdout, `${answer.body}\n`);
    answer = { status: 200, body: '{"Result":null}' };
    const ok = await runShim({ bin: bin.shim, env: { CNI_COMMAND: "DEL", ...cniEnv, MT_OUT: bin.out }, stdin });
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.equal(ok.stdout, "");
    assert.equal(existsSync(`${bin.out}.stdin`), false, "the local multus must not run");
    assert.deepEqual(daemon.received.map((x) => `${x.method} ${x.url}`), ["POST /cni", "POST /cni"], "DEL does not wait for /readyz");
  } finally {
    await daemon.close();
    await rm(bin.dir, { recursive: true, force: true });
  }
});

test("DEL with no daemon and no multus next to the shim is code 11 naming both", async () => {
  const bin = await shimWithLocalMultus(false);
  const sockDir = await mkdtemp(join(tmpdir(), "mt-shim-"));
  try {
    const r = await runShim({ bin: bin.shim, env: { CNI_COMMAND: "DEL", ...cniEnv }, stdin: conf({ daemonSocketDir: sockDir }) });
    assert.equal(r.code, 1);
    assert.deepEqual(json(r), {
      cniVersion: "1.0.0",
      code: 11,
      msg: `multus-daemon unreachable at ${sockDir}/multus.sock (connect: No such file or directory), and the DEL cannot run locally: ${bin.dir}/multus is missing: install the thin multus binary next to multus-shim`,
    });
  } finally {
    await rm(bin.dir, { recursive: true, force: true });
    await rm(sockDir, { recursive: true, force: true });
  }
});

// A launcher for the shim, compiled here with gcc: `--no-pidfd` installs a seccomp filter under which
// pidfd_open fails with ENOSYS (as on a kernel before 5.3, or under a runtime's seccomp profile) and
// checks that it does; `--max-rss FILE` runs the program as its child and writes the child's peak
// RSS (getrusage ru_maxrss, KiB) to FILE, else the program is exec'd in its place. Env and stdio
// pass through.
const LAUNCHER_C = String.raw`
#define _GNU_SOURCE
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#ifndef __NR_pidfd_open
#define __NR_pidfd_open 434
#endif
#if defined(__x86_64__)
#define NATIVE_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define NATIVE_ARCH AUDIT_ARCH_AARCH64
#else
#error "this architecture's AUDIT_ARCH is missing here"
#endif
extern char **environ;

static void deny_pidfd_open(void)
{
	struct sock_filter filter[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NATIVE_ARCH, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_pidfd_open, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {.len = sizeof filter / sizeof filter[0], .filter = filter};
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
		perror("launcher: seccomp");
		exit(125);
	}
	if (syscall(__NR_pidfd_open, getpid(), 0) != -1 || errno != ENOSYS) {
		fprintf(stderr, "launcher: pidfd_open still works under the filter\n");
		exit(125);
	}
}

int main(int argc, char **argv)
{
	const char *rss = NULL;
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--no-pidfd") == 0) {
			deny_pidfd_open();
		} else if (strcmp(argv[i], "--max-rss") == 0 && i + 1 < argc) {
			rss = argv[++i];
		} else {
			fprintf(stderr, "launcher: unknown option %s\n", argv[i]);
			return 125;
		}
	}
	if (i >= argc) {
		fprintf(stderr, "usage: launcher [--no-pidfd] [--max-rss FILE] PROGRAM [ARG...]\n");
		return 125;
	}
	if (rss == NULL) {
		execve(argv[i], argv + i, environ);
		perror("launcher: execve");
		return 126;
	}
	pid_t pid = fork();
	if (pid < 0) {
		perror("launcher: fork");
		return 125;
	}
	if (pid == 0) {
		execve(argv[i], argv + i, environ);
		perror("launcher: execve");
		_exit(126);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			perror("launcher: waitpid");
			return 125;
		}
	}
	struct rusage usage;
	FILE *out = fopen(rss, "w");
	if (getrusage(RUSAGE_CHILDREN, &usage) != 0 || out == NULL || fprintf(out, "%ld\n", usage.ru_maxrss) < 0 || fclose(out) != 0) {
		perror("launcher: max RSS");
		return 125;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
`;

let launcher: Promise<string> | undefined;
const launcherDirs: string[] = [];
after(async () => {
  for (const dir of launcherDirs) await rm(dir, { recursive: true, force: true });
});

/** The launcher above, built once per run of this file. */
function shimLauncher(): Promise<string> {
  launcher ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), "mt-shim-launcher-"));
    launcherDirs.push(dir);
    await writeFile(join(dir, "launcher.c"), LAUNCHER_C);
    await execFileAsync("gcc", ["-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-o", join(dir, "launcher"), join(dir, "launcher.c")], { timeout: 60_000 });
    return join(dir, "launcher");
  })();
  return launcher;
}

/** Gone, or a zombie waiting for its reaper (init in a container may never reap it). */
function processGone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    return true;
  }
}

test("a local DEL that never finishes is killed with its process group at the deadline, with pidfd_open or without (seccomp: ENOSYS)", async () => {
  const launcherPath = await shimLauncher();
  // The deadline is operation + rollback + 20 s (the daemon's queue wait and the way back): 20.75 s.
  const stdinFor = (sockDir: string): string => conf({ daemonSocketDir: sockDir, operationTimeoutSeconds: 0.5, rollbackTimeoutSeconds: 0.25 });
  const runs = [false, true].map(async (withoutPidfd) => {
    const bin = await shimWithLocalMultus(false);
    const sockDir = await mkdtemp(join(tmpdir(), "mt-shim-"));
    // A thin multus that hangs, with a child of its own: both must be gone after the kill.
    await writeFile(join(bin.dir, "multus"), '#!/bin/sh\necho $$ > "$MT_OUT.pid"\nsleep 3600 &\necho $! > "$MT_OUT.child"\nwait\n', { mode: 0o755 });
    try {
      const argv = withoutPidfd ? [launcherPath, "--no-pidfd", bin.shim] : [bin.shim];
      const r = await runShim({ argv, env: { CNI_COMMAND: "DEL", ...cniEnv, MT_OUT: bin.out }, stdin: stdinFor(sockDir) });
      const how = withoutPidfd ? "without pidfd_open" : "with pidfd_open";
      assert.equal(r.code, 1, `${how}: ${r.stdout}${r.stderr}`);
      assert.deepEqual(json(r), { cniVersion: "1.0.0", code: 999, msg: `the local DEL through ${bin.dir}/multus did not finish within 20.75 s and was killed` }, how);
      assert.match(r.stderr, /DEL runs locally through \S+\/multus\n/, how);
      assert.ok(r.ms >= 20_500 && r.ms < 25_000, `${how}: killed after ${Math.round(r.ms)} ms, 20750 expected`);
      const pids = [Number(await readFile(`${bin.out}.pid`, "utf8")), Number(await readFile(`${bin.out}.child`, "utf8"))];
      for (let i = 0; i < 20 && !pids.every(processGone); i++) await sleep(50);
      assert.ok(pids.every(processGone), `${how}: the thin plugin's process group (${pids.join(", ")}) still runs`);
    } finally {
      // On a failure, the hung plugin's group must not outlive the test.
      const pgid = Number(await readFile(`${bin.out}.pid`, "utf8").catch(() => "0"));
      if (pgid > 1 && !processGone(pgid)) {
        try {
          process.kill(-pgid, "SIGKILL");
        } catch {
          // already gone
        }
      }
      await rm(bin.dir, { recursive: true, force: true });
      await rm(sockDir, { recursive: true, force: true });
    }
  });
  // Both at once: the test takes one deadline, not two. Every run's failure is reported.
  const results = await Promise.allSettled(runs);
  const failures = results.flatMap((x) => (x.status === "rejected" ? [x.reason as Error] : []));
  if (failures.length > 0) throw new AggregateError(failures, failures.map((e) => e.message).join("\n"));
});

interface FloodDaemon {
  dir: string;
  socketPath: string;
  /** Bytes written per POST /cni connection, in order. */
  sent: number[];
  close(): Promise<void>;
}

/**
 * A daemon whose answer to POST /cni never ends: a head, then `block` again and again (up to 160 MiB,
 * then it idles with the connection open). GET /readyz is answered 200. Raw net: node:http cannot
 * write chunk extensions.
 */
async function startFloodDaemon(head: string, block: Buffer): Promise<FloodDaemon> {
  const dir = await mkdtemp(join(tmpdir(), "mt-shim-"));
  const socketPath = join(dir, "multus.sock");
  const sent: number[] = [];
  const sockets = new Set<Socket>();
  const flood = async (socket: Socket, index: number): Promise<void> => {
    socket.write(head);
    while (!socket.destroyed && (sent[index] ?? 0) < 160 * 1024 * 1024) {
      const more = socket.write(block);
      sent[index] = (sent[index] ?? 0) + block.length;
      if (!more) {
        await new Promise<void>((resolve) => {
          const done = (): void => {
            socket.off("drain", done);
            socket.off("close", done);
            resolve();
          };
          socket.on("drain", done);
          socket.on("close", done);
        });
      }
    }
  };
  const server = createNetServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => undefined); // the shim hangs up in the middle: EPIPE, ECONNRESET
    let request = "";
    const onData = (d: Buffer): void => {
      request += d.toString("latin1");
      if (!request.includes("\r\n\r\n")) return;
      socket.off("data", onData);
      socket.resume();
      if (request.startsWith("GET /readyz ")) {
        socket.end("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        return;
      }
      const index = sent.push(0) - 1;
      void flood(socket, index).catch(() => socket.destroy());
    };
    socket.on("data", onData);
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  return {
    dir,
    socketPath,
    sent,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      });
      await rm(dir, { recursive: true, force: true });
    },
  };
}

const RECEIVE_LIMIT = 72 * 1024 * 1024;
const TOO_MUCH = "malformed HTTP response: the response is not complete after 72 MiB (64 MiB of body plus 8 MiB for headers and chunk framing)";

test("endless one-byte chunks with 1000-byte extensions are cut off after 72 MiB in bounded memory: ADD is code 11, DEL runs locally", async () => {
  const launcherPath = await shimLauncher();
  // 1024 chunks of one byte, each line 1000 bytes long with its extension: 1 MiB of raw per 1 KiB of body.
  const chunk = `1;ext=${"x".repeat(994)}\r\n \r\n`;
  const daemon = await startFloodDaemon("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n", Buffer.from(chunk.repeat(1024), "latin1"));
  const bin = await shimWithLocalMultus(true);
  try {
    const stdin = conf({ daemonSocketDir: daemon.dir, operationTimeoutSeconds: 0.5, rollbackTimeoutSeconds: 0.25 });
    const rssFile = join(bin.dir, "max-rss");
    for (const command of ["ADD", "DEL"]) {
      const r = await runShim({ argv: [launcherPath, "--max-rss", rssFile, bin.shim], env: { CNI_COMMAND: command, ...cniEnv, MT_OUT: bin.out }, stdin });
      if (command === "ADD") {
        assert.equal(r.code, 1, r.stdout + r.stderr);
        assert.deepEqual(json(r), {
          cniVersion: "1.0.0",
          code: 11,
          msg: `multus-daemon at ${daemon.socketPath} did not answer the ADD (${TOO_MUCH}): check the multus DaemonSet pod on this node (kubectl -n kube-system get pods -l app=multus -o wide; its logs)`,
        });
      } else {
        // An answer that never completes is no answer: the DEL runs through the thin plugin.
        assert.equal(r.code, 3, r.stdout + r.stderr);
        assert.equal(r.stdout, '{"from":"local multus"}\n');
        assert.equal(r.stderr, `multus-shim: multus-daemon unreachable at ${daemon.socketPath} (${TOO_MUCH}); DEL runs locally through ${bin.dir}/multus\n`);
      }
      const maxRssKiB = Number(await readFile(rssFile, "utf8"));
      assert.ok(maxRssKiB > 0 && maxRssKiB < 16 * 1024, `${command}: the shim's peak RSS was ${maxRssKiB} KiB for a 72 KiB body`);
      assert.ok(r.ms < 10_000, `${command}: ended after ${Math.round(r.ms)} ms`);
    }
    assert.equal(daemon.sent.length, 2);
    for (const n of daemon.sent) assert.ok(n >= RECEIVE_LIMIT && n < 160 * 1024 * 1024, `the daemon wrote ${n} bytes`);
  } finally {
    await daemon.close();
    await rm(bin.dir, { recursive: true, force: true });
  }
});

test("endless interim responses (100 Continue, 1 KiB each) are cut off after 72 MiB too", async () => {
  const launcherPath = await shimLauncher();
  const interim = `HTTP/1.1 100 Continue\r\nX-Pad: ${"p".repeat(990)}\r\n\r\n`;
  const daemon = await startFloodDaemon("", Buffer.from(interim.repeat(1024), "latin1"));
  const dir = await mkdtemp(join(tmpdir(), "mt-shim-rss-"));
  try {
    const rssFile = join(dir, "max-rss");
    const stdin = conf({ daemonSocketDir: daemon.dir, operationTimeoutSeconds: 0.5, rollbackTimeoutSeconds: 0.25 });
    const r = await runShim({ argv: [launcherPath, "--max-rss", rssFile, binPath("multus-shim")], env: { CNI_COMMAND: "CHECK", ...cniEnv }, stdin });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.equal(json(r)["msg"], `multus-daemon at ${daemon.socketPath} did not answer the CHECK (${TOO_MUCH}): check the multus DaemonSet pod on this node (kubectl -n kube-system get pods -l app=multus -o wide; its logs)`);
    assert.ok(r.ms < 10_000, `ended after ${Math.round(r.ms)} ms`);
    const maxRssKiB = Number(await readFile(rssFile, "utf8"));
    assert.ok(maxRssKiB > 0 && maxRssKiB < 16 * 1024, `the shim's peak RSS was ${maxRssKiB} KiB`);
  } finally {
    await daemon.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test("a config over 4 MiB on stdin is code 5", async () => {
  const r = await runShim({ env: { CNI_COMMAND: "ADD", ...cniEnv }, stdin: conf({ pad: "x".repeat(4 * 1024 * 1024) }) });
  assert.equal(r.code, 1);
  assert.deepEqual(json(r), { cniVersion: "1.1.0", code: 5, msg: "config on stdin exceeds 4 MiB" });
});

test("only top-level keys count: daemonSocketDir inside nested objects, arrays and strings is ignored", async () => {
  const daemon = await startFakeDaemon((_r, res) => res.end('{"Result":{"cniVersion":"1.0.0"}}'));
  try {
    // The real key is spelt with an escape (JSON.parse reads it as daemonSocketDir); decoys follow it.
    const stdin = `{"cniVersion":"1.0.0","daemon\\u0053ocketDir":"${daemon.dir}","daemonReadyTimeoutSeconds":1,
      "delegates":[{"daemonSocketDir":"/nonexistent/a","x":{"daemonSocketDir":"/nonexistent/b"}}],
      "args":{"cni":{"daemonSocketDir":"/nonexistent/c"}},
      "s":"\\"daemonSocketDir\\":\\"/nonexistent/d\\"", "n":[[[-1.5e3,true,false,null]]]}`;
    assert.equal((JSON.parse(stdin) as Record<string, unknown>)["daemonSocketDir"], daemon.dir);
    const r = await runShim({ env: { CNI_COMMAND: "ADD", ...cniEnv }, stdin });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(r.stdout, '{"cniVersion":"1.0.0"}\n');
  } finally {
    await daemon.close();
  }
});
