// Plugin lookup and execution against fake plugins (shell scripts): the protocol edge cases no
// reference plugin produces. Every execution test runs under both spawners: Node's child_process
// (nodeSpawner) and posix_spawn through the built dist/bin/multus-native.node (src/util/native-spawn.ts,
// what the engine uses when the module is installed), which must keep the same contract.
// Run: node --test --test-concurrency=1 test/integration/cni-exec-plugin.test.ts
import assert from "node:assert/strict";
import { chmod, mkdir, open, readdir, readFile, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { CniError } from "../../src/cni/cni-error.ts";
import {
  buildPluginEnv,
  execPlugin as execPluginWith,
  findPlugin,
  formatCniArgs,
  nodeSpawner,
  probeVersion as probeVersionWith,
  setPluginRoot,
  type ExecPluginRequest,
  type ProbeVersionOptions,
  type Spawner,
} from "../../src/cni/exec-plugin.ts";
import { useNativeModule } from "../../src/util/native-module.ts";
import { nativeSpawner } from "../../src/util/native-spawn.ts";
import { FakePluginDir } from "../helpers/fake-plugin.ts";
import { binPath } from "../helpers/run-executable.ts";

let fakes: FakePluginDir;

before(async () => {
  fakes = await FakePluginDir.create();
});
after(async () => {
  await fakes.remove();
});

const SIX = ["CNI_COMMAND", "CNI_CONTAINERID", "CNI_NETNS", "CNI_ARGS", "CNI_IFNAME", "CNI_PATH"];

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** PIDs whose command line is exactly argv (to find a fake's `sleep` child without guessing names). */
async function pidsWithCmdline(argv: string[]): Promise<number[]> {
  const want = argv.join("\0") + "\0";
  const out: number[] = [];
  for (const d of await readdir("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    const cmd = await readFile(`/proc/${d}/cmdline`, "utf8").catch(() => "");
    if (cmd === want) out.push(Number(d));
  }
  return out;
}

async function rejects(p: Promise<unknown>): Promise<CniError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof CniError, `expected a CniError, got ${String(err)}`);
    return err;
  }
  assert.fail("expected a rejection");
}

test("CNI-R-01 lookup takes the first regular executable file across the dirs (libcni would stop at a non-executable one)", async () => {
  const a = join(fakes.root, "dir-a");
  const b = join(fakes.root, "dir-b");
  const c = join(fakes.root, "dir-c");
  await Promise.all([mkdir(a), mkdir(b), mkdir(c)]);
  // dir-a: a directory named like the plugin; dir-b: a non-executable file; dir-c: the plugin.
  await mkdir(join(a, "plug"));
  await writeFile(join(b, "plug"), "#!/bin/sh\n");
  await writeFile(join(c, "plug"), "#!/bin/sh\n");
  await chmod(join(c, "plug"), 0o755);
  assert.equal(await findPlugin("plug", [a, b, c]), join(c, "plug"));
  await writeFile(join(b, "first"), "#!/bin/sh\n", { mode: 0o755 });
  await writeFile(join(c, "first"), "#!/bin/sh\n", { mode: 0o755 });
  assert.equal(await findPlugin("first", [a, b, c]), join(b, "first"));
});

test("CNI-R-01 lookup rejects an empty type, a path separator, and names the dirs when not found", async () => {
  const e1 = await rejects(findPlugin("../x", [fakes.binDir]));
  assert.equal(e1.message, "invalid plugin name: ../x");
  assert.equal(e1.code, 7);
  const e2 = await rejects(findPlugin("", [fakes.binDir]));
  assert.equal(e2.message, "no plugin name provided");
  const e3 = await rejects(findPlugin("nope", ["/a", "/b"]));
  assert.equal(e3.message, 'failed to find plugin "nope" in path [/a /b]');
  const e4 = await rejects(findPlugin("nope", []));
  assert.equal(e4.message, "no paths provided");
});

/** The engine's two ways of starting a plugin; each runs every execution test below. */
function spawners(): { name: string; tag: string; spawner: () => Spawner }[] {
  return [
    { name: "Node's child_process", tag: "n", spawner: () => nodeSpawner },
    {
      name: "posix_spawn (multus-native.node)",
      tag: "p",
      spawner: () => {
        useNativeModule(binPath("multus-native.node"));
        const s = nativeSpawner();
        assert.ok(s !== undefined, "dist/bin/multus-native.node did not load");
        return s;
      },
    },
  ];
}

for (const { name: spawnerName, tag, spawner: makeSpawner } of spawners()) {
  describe(`plugin execution with ${spawnerName}`, () => {
  let spawner: Spawner;
  before(() => {
    spawner = makeSpawner();
  });
  const execPlugin = (req: ExecPluginRequest): Promise<Buffer> => execPluginWith({ ...req, spawner });
  const probeVersion = (path: string, opts: ProbeVersionOptions): ReturnType<typeof probeVersionWith> => probeVersionWith(path, { ...opts, spawner });
  /** Fake names (and the unique sleep durations used to find a fake's children) differ per spawner. */
  const n = (name: string): string => `${name}-${tag}`;
  const sleepOf = (seconds: number): number => seconds + (tag === "p" ? 0.5 : 0);

  test("CNI-R-02 env = base env + all six CNI_* (empty ones too), ours overriding the base's", async () => {
    const path = await fakes.add({ name: n("envdump"), on: { "*": { stdout: "{}" } } });
    await fakes.clear();
    const base = { FOO: "bar", CNI_COMMAND: "BOGUS", CNI_NETNS: "/stale", CNI_IFNAME: "stale0", PATH: "/usr/bin:/bin" };
    await execPlugin({ pluginPath: path, command: "ADD", containerId: "cid1", args: formatCniArgs([["K8S_POD_NAME", "web"], ["IgnoreUnknown", "1"]]), path: ["/x", "/y"], stdin: "{}", env: base, timeoutMs: 5000 });
    const [inv] = await fakes.invocations();
    assert.ok(inv);
    const expected = { FOO: "bar", PATH: "/usr/bin:/bin", CNI_COMMAND: "ADD", CNI_CONTAINERID: "cid1", CNI_NETNS: "", CNI_ARGS: "K8S_POD_NAME=web;IgnoreUnknown=1", CNI_IFNAME: "", CNI_PATH: "/x:/y" };
    // /bin/sh exports PWD itself; everything else must be exactly what we passed.
    const { PWD: _pwd, ...seen } = inv.env;
    assert.deepEqual(seen, expected);
    for (const k of SIX) assert.ok(k in inv.env, k);
  });

  test("CNI-R-02 buildPluginEnv defaults to the process environment and sets all six", () => {
    const env = buildPluginEnv({ HOME: "/root", X: undefined }, { command: "DEL" });
    assert.deepEqual(env, { HOME: "/root", CNI_COMMAND: "DEL", CNI_CONTAINERID: "", CNI_NETNS: "", CNI_ARGS: "", CNI_IFNAME: "", CNI_PATH: "" });
  });

  test("CNI-R-02 stdin reaches the plugin byte for byte; stdout comes back", async () => {
    const path = await fakes.add({ name: n("echoer"), on: { ADD: { stdout: '{"cniVersion":"1.1.0"}' } } });
    await fakes.clear();
    const stdin = JSON.stringify({ cniVersion: "1.1.0", name: "n", type: "echoer", note: "ü\u2028\n" });
    const out = await execPlugin({ pluginPath: path, command: "ADD", stdin, timeoutMs: 5000 });
    assert.equal(out.toString(), '{"cniVersion":"1.1.0"}');
    const [inv] = await fakes.invocations();
    assert.equal(inv?.stdin, stdin);
  });

  test("CNI-R-08 a plugin's stdout error object keeps its code, msg and details", async () => {
    const path = await fakes.add({
      name: n("err7"),
      on: { ADD: { stdout: '{"cniVersion":"1.1.0","code":7,"msg":"bad config","details":"key \\"x\\""}', stderr: "log line\n", exitCode: 1 } },
    });
    const e = await rejects(execPlugin({ pluginPath: path, command: "ADD", stdin: "{}", timeoutMs: 5000 }));
    assert.equal(e.code, 7);
    assert.equal(e.message, "bad config");
    assert.equal(e.details, 'key "x"');
  });

  test("CNI-R-08 libcni's fallback texts when the plugin gives no usable error object", async () => {
    const cases: { name: string; b: { stdout?: string; stderr?: string; exitCode: number }; want: string | RegExp }[] = [
      { name: "silent", b: { exitCode: 3 }, want: "netplugin failed with no error message: exit status 3" },
      { name: "stderronly", b: { stderr: 'boom "x"\n', exitCode: 1 }, want: 'netplugin failed: "boom \\"x\\"\\n": exit status 1' },
      { name: "garbage", b: { stdout: "not json", exitCode: 1 }, want: /^netplugin failed but error parsing its diagnostic message "not json": / },
      { name: "nocode", b: { stdout: '{"msg":"x"}', exitCode: 1 }, want: /^netplugin failed but error parsing its diagnostic message "\{\\"msg\\":\\"x\\"\}": missing or invalid "code"$/ },
    ];
    for (const c of cases) {
      const path = await fakes.add({ name: n(c.name), on: { ADD: c.b } });
      const e = await rejects(execPlugin({ pluginPath: path, command: "ADD", stdin: "{}", timeoutMs: 5000 }));
      if (typeof c.want === "string") assert.equal(e.message, c.want);
      else assert.match(e.message, c.want);
      assert.equal(e.code, 999, c.name);
    }
  });

  test("CNI-R-08 a plugin killed by a signal and a plugin that cannot be executed", async () => {
    const path = join(fakes.binDir, n("selfkill"));
    await writeFile(path, "#!/bin/sh\nkill -SEGV $$\n", { mode: 0o755 });
    const e = await rejects(execPlugin({ pluginPath: path, command: "ADD", stdin: "{}", timeoutMs: 5000 }));
    assert.equal(e.message, "netplugin failed with no error message: signal: segmentation fault");
    const noexec = join(fakes.binDir, n("noexec"));
    await writeFile(noexec, "#!/bin/sh\n", { mode: 0o644 });
    const e2 = await rejects(execPlugin({ pluginPath: noexec, command: "ADD", stdin: "{}", timeoutMs: 5000 }));
    assert.equal(e2.message, `netplugin failed with no error message: fork/exec ${noexec}: permission denied`);
  });

  test("CNI-R-08 stderr goes to the logger line by line, on success and on failure", async () => {
    const ok = await fakes.add({ name: n("chatty"), on: { ADD: { stderr: "one\ntwo\nthree", stdout: "{}" }, DEL: { stderr: "bye\n", exitCode: 1 } } });
    const lines: string[] = [];
    await execPlugin({ pluginPath: ok, command: "ADD", stdin: "{}", timeoutMs: 5000, onStderr: (l) => lines.push(l) });
    assert.deepEqual(lines, ["one", "two", "three"]);
    lines.length = 0;
    const e = await rejects(execPlugin({ pluginPath: ok, command: "DEL", stdin: "{}", timeoutMs: 5000, onStderr: (l) => lines.push(l) }));
    assert.deepEqual(lines, ["bye"]);
    assert.equal(e.message, 'netplugin failed: "bye\\n": exit status 1');
  });

  test("CNI-R-17 a plugin past its deadline is killed with its children; the error names plugin and time", async () => {
    // A unique duration lets us find the fake's `sleep` child by its exact command line.
    const path = await fakes.add({ name: n("hang"), on: { ADD: { sleepSeconds: sleepOf(47.31), stderr: "starting\n" } } });
    await fakes.clear();
    const t0 = Date.now();
    const e = await rejects(execPlugin({ pluginPath: path, command: "ADD", stdin: "{}", timeoutMs: 400 }));
    const elapsed = Date.now() - t0;
    assert.match(e.message, /^plugin \S+ \(ADD\) timed out after 400 ms and was killed \(it ran \d+ ms\)$/);
    assert.ok(e.message.startsWith(`plugin ${path} (ADD)`));
    assert.equal(e.details, "starting");
    assert.ok(elapsed >= 400 && elapsed < 3000, `elapsed ${elapsed}`);
    const [inv] = await fakes.invocations();
    assert.ok(inv);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(alive(inv.pid), false, "the plugin survived its deadline");
    assert.deepEqual(await pidsWithCmdline(["sleep", String(sleepOf(47.31))]), [], "the plugin's child survived its deadline");
  });

  test("CNI-R-17 cancelling through an AbortSignal kills the plugin too", async () => {
    const path = await fakes.add({ name: n("hang2"), on: { DEL: { sleepSeconds: sleepOf(48.31) } } });
    await fakes.clear();
    const ac = new AbortController();
    setTimeout(() => {
      ac.abort(new Error("runtime gave up"));
    }, 200);
    const e = await rejects(execPlugin({ pluginPath: path, command: "DEL", stdin: "{}", timeoutMs: 30_000, signal: ac.signal }));
    assert.match(e.message, /^plugin .*hang2-[np] \(DEL\) was cancelled after \d+ ms and was killed: runtime gave up$/);
    const [inv] = await fakes.invocations();
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(alive(inv?.pid ?? 0), false);
    assert.deepEqual(await pidsWithCmdline(["sleep", String(sleepOf(48.31))]), []);
  });

  test("CNI-R-08 'text file busy' is retried until the binary is closed by its writer", async () => {
    const path = join(fakes.binDir, n("busy"));
    const fh = await open(path, "w", 0o755);
    await fh.writeFile('#!/bin/sh\necho \'{"ok":true}\'\n');
    await fh.chmod(0o755);
    // Still open for writing: exec fails with ETXTBSY until we close it.
    setTimeout(() => {
      void fh.close();
    }, 350);
    const t0 = Date.now();
    const out = await execPlugin({ pluginPath: path, command: "ADD", stdin: "{}", timeoutMs: 10_000, busyRetryDelayMs: 200 });
    assert.equal(out.toString().trim(), '{"ok":true}');
    assert.ok(Date.now() - t0 >= 350, "succeeded before the writer closed the file?");
  });

  test("CNI-R-08 'text file busy' gives up after the retries", async () => {
    const path = join(fakes.binDir, n("busy2"));
    const fh = await open(path, "w", 0o755);
    try {
      await fh.writeFile("#!/bin/sh\nexit 0\n");
      await fh.chmod(0o755);
      const t0 = Date.now();
      const e = await rejects(execPlugin({ pluginPath: path, command: "ADD", stdin: "{}", timeoutMs: 10_000, busyRetries: 5, busyRetryDelayMs: 50 }));
      assert.equal(e.message, `netplugin failed with no error message: fork/exec ${path}: text file busy`);
      // 5 retries, 50 ms apart.
      assert.ok(Date.now() - t0 >= 250);
    } finally {
      await fh.close();
    }
  });

  test("CNI-R-08 the default ETXTBSY spacing is libcni's 1 s", async () => {
    const path = join(fakes.binDir, n("busy3"));
    const fh = await open(path, "w", 0o755);
    await fh.writeFile("#!/bin/sh\nexit 0\n");
    await fh.chmod(0o755);
    setTimeout(() => {
      void fh.close();
    }, 100);
    const t0 = Date.now();
    await execPlugin({ pluginPath: path, command: "ADD", stdin: "{}", timeoutMs: 10_000 });
    const ms = Date.now() - t0;
    assert.ok(ms >= 1000 && ms < 2500, `took ${ms} ms`);
  });

  test("CNI-R-14 VERSION probe: request shape, modern reply", async () => {
    const path = await fakes.add({ name: n("modern"), on: { VERSION: { stdout: '{"cniVersion":"1.1.0","supportedVersions":["0.4.0","1.0.0","1.1.0"]}' } } });
    await fakes.clear();
    const info = await probeVersion(path, { timeoutMs: 5000 });
    assert.deepEqual(info, { cniVersion: "1.1.0", supportedVersions: ["0.4.0", "1.0.0", "1.1.0"] });
    const [inv] = await fakes.invocations();
    assert.ok(inv);
    assert.equal(inv.stdin, '{"cniVersion":"1.1.0"}');
    assert.equal(inv.env.CNI_COMMAND, "VERSION");
    assert.equal(inv.env.CNI_NETNS, "dummy");
    assert.equal(inv.env.CNI_IFNAME, "dummy");
    assert.equal(inv.env.CNI_PATH, "dummy");
    assert.equal(inv.env.CNI_CONTAINERID, "");
  });

  test("CNI-R-14 VERSION probe: legacy plugins", async () => {
    const pre = await fakes.add({ name: n("prehistoric"), on: { VERSION: { stdout: '{"code":4,"msg":"unknown CNI_COMMAND: VERSION"}', exitCode: 1 } } });
    assert.deepEqual((await probeVersion(pre, { timeoutMs: 5000 })).supportedVersions, ["0.1.0"]);
    const v020 = await fakes.add({ name: n("v020"), on: { VERSION: { stdout: '{"cniVersion":"0.2.0"}' } } });
    assert.deepEqual((await probeVersion(v020, { timeoutMs: 5000 })).supportedVersions, ["0.1.0", "0.2.0"]);
    const v030 = await fakes.add({ name: n("v030"), on: { VERSION: { stdout: '{"cniVersion":"0.3.0"}' } } });
    assert.equal((await rejects(probeVersion(v030, { timeoutMs: 5000 }))).message, "decoding version info: missing field supportedVersions");
    const nover = await fakes.add({ name: n("nover"), on: { VERSION: { stdout: '{"supportedVersions":["0.1.0"]}' } } });
    assert.equal((await rejects(probeVersion(nover, { timeoutMs: 5000 }))).message, "decoding version info: missing field cniVersion");
    // Details make it a different error: libcni compares the whole text.
    const other = await fakes.add({ name: n("other"), on: { VERSION: { stdout: '{"code":4,"msg":"unknown CNI_COMMAND: VERSION","details":"x"}', exitCode: 1 } } });
    assert.equal((await rejects(probeVersion(other, { timeoutMs: 5000 }))).code, 4);
  });

  test("CNI-R-14 VERSION probe of the installed reference plugins (Debian 1.1.1: up to 1.0.0)", async () => {
    const info = await probeVersion("/usr/lib/cni/bridge", { timeoutMs: 5000 });
    assert.ok(info.supportedVersions.includes("1.0.0"));
    assert.ok(info.supportedVersions.includes("0.4.0"));
  });

  test("CNI-R-02 a plugin that exits without reading a large stdin is not an error", async () => {
    const path = join(fakes.binDir, n("noread"));
    await writeFile(path, "#!/bin/sh\necho '{}'\n", { mode: 0o755 });
    const out = await execPlugin({ pluginPath: path, command: "ADD", stdin: "x".repeat(4 * 1024 * 1024), timeoutMs: 5000 });
    assert.equal(out.toString().trim(), "{}");
  });

  test("chrootDir (the thick daemon in its container): setPluginRoot finds a plugin through the root's own absolute symlinks and runs it chrooted, with the root's files and tools", async () => {
    // A minimal "host root": static busybox as /bin/sh, a plugin script under /usr/lib/cni, and
    // /opt/cni/bin/chrooted -> /usr/lib/cni/chrooted-real (absolute: it resolves only inside the root).
    const root = join(fakes.binDir, "..", n("hostroot"));
    await mkdir(join(root, "bin"), { recursive: true });
    await mkdir(join(root, "usr", "lib", "cni"), { recursive: true });
    await mkdir(join(root, "opt", "cni", "bin"), { recursive: true });
    await writeFile(join(root, "bin", "sh"), await readFile("/bin/busybox"), { mode: 0o755 });
    await writeFile(join(root, "marker"), "inside the root\n");
    await writeFile(join(root, "usr", "lib", "cni", "chrooted-real"), '#!/bin/sh\nread -r m < /marker\necho "{\\"cniVersion\\":\\"1.0.0\\",\\"seen\\":\\"$m\\"}"\n', { mode: 0o755 });
    await symlink("/usr/lib/cni/chrooted-real", join(root, "opt", "cni", "bin", "chrooted"));
    setPluginRoot(root);
    try {
      const found = await findPlugin("chrooted", ["/opt/cni/bin"]);
      assert.equal(found, "/opt/cni/bin/chrooted", "the path as the chrooted plugin sees it");
      const out = JSON.parse((await execPlugin({ pluginPath: found, command: "ADD", stdin: "{}", timeoutMs: 5000 })).toString()) as { seen: string };
      assert.equal(out.seen, "inside the root", "the plugin ran with the root's files");
      await assert.rejects(findPlugin("bridge", ["/opt/cni/bin"]), /failed to find plugin "bridge"/, "our own /opt/cni/bin is not looked at");
    } finally {
      setPluginRoot(undefined);
    }
    // Without the root the same path does not exist here: the test needs the chroot to pass.
    await assert.rejects(findPlugin("chrooted", ["/opt/cni/bin"]));
  });

  test("the spawner's contract: fd 3, 4 are the inherited descriptors and nothing else of ours crosses; a session of its own; no signal ignored or blocked; reaped", async () => {
    const lockA = join(fakes.root, n("lock-a"));
    const lockB = join(fakes.root, n("lock-b"));
    const secret = join(fakes.root, n("not-inherited"));
    await Promise.all([writeFile(lockA, ""), writeFile(lockB, ""), writeFile(secret, "")]);
    const path = join(fakes.binDir, n("contract"));
    // Prints each open descriptor's target, its session id, and its ignored and blocked signal masks.
    await writeFile(
      path,
      [
        "#!/bin/sh",
        "for f in /proc/$$/fd/*; do echo \"fd ${f##*/} $(readlink $f)\"; done",
        "echo \"sid $(cut -d' ' -f6 /proc/$$/stat) pid $$\"",
        "grep -E '^Sig(Ign|Blk):' /proc/$$/status",
        "",
      ].join("\n"),
      { mode: 0o755 },
    );
    const a = await open(lockA, "r");
    const b = await open(lockB, "r");
    const hidden = await open(secret, "r");
    let pid = 0;
    let exited = 0;
    try {
      const out = (
        await execPlugin({ pluginPath: path, command: "ADD", stdin: "{}", timeoutMs: 5000, inheritFds: [b.fd, a.fd], onSpawn: (p) => (pid = p), onExit: (p) => (exited = p) })
      ).toString();
      assert.match(out, new RegExp(`^fd 3 ${lockB}$`, "m"), out);
      assert.match(out, new RegExp(`^fd 4 ${lockA}$`, "m"), out);
      assert.ok(!out.includes(secret), `a descriptor not handed over reached the plugin:\n${out}`);
      assert.match(out, new RegExp(`^sid ${String(pid)} pid ${String(pid)}$`, "m"), "the plugin leads a session of its own");
      // No standard signal ignored (Node ignores SIGPIPE and SIGXFSZ). glibc's posix_spawn leaves its
      // two internal real-time signals (32, 33) ignored across the exec; a program's libc installs its
      // own handlers for those when it uses them, and Go plugins leave them alone.
      const ignored = BigInt(`0x${/^SigIgn:\s+([0-9a-f]+)$/m.exec(out)?.[1] ?? "ffff"}`);
      assert.equal(ignored & 0x7fffffffn, 0n, `a standard signal is ignored in the plugin: SigIgn ${ignored.toString(16)}`);
      assert.match(out, /^SigBlk:\s+0+$/m, "a signal is blocked in the plugin");
    } finally {
      await Promise.all([a.close(), b.close(), hidden.close()]);
    }
    assert.equal(exited, pid, "onExit names the plugin's PID");
    assert.equal(alive(pid), false, "the plugin was not reaped (a zombie still answers kill 0)");
  });

  test("a missing program is a spawn error with its errno, as Node reports it", async () => {
    const e = await rejects(execPlugin({ pluginPath: join(fakes.binDir, n("absent")), command: "ADD", stdin: "{}", timeoutMs: 5000 }));
    assert.equal(e.message, `netplugin failed with no error message: fork/exec ${join(fakes.binDir, n("absent"))}: no such file or directory`);
  });
  });
}
