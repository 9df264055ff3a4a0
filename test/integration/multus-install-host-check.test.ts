// multus-install's host check (src/install/host-check.ts), run for real: dist/bin/multus-install
// installs the real dist/bin executables into a fake node root in a temp directory and runs them
// there with chroot(1), as in the DaemonSet's initContainer (the node's / at /hostroot). The root is
// made of what `ldd dist/bin/multus` lists plus the ELF interpreter, copied from this machine; the
// failing nodes lack one of them, or have a glibc that is too old (a libc.so.6 built here with only
// the symbol versions of glibc 2.17, so the real dynamic loader refuses the executable exactly as on
// an old distribution). Nothing outside the temp directories is touched: the CNI bin and config
// directories, the ServiceAccount volume and the install record are all in there.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { describe, test, type TestContext } from "node:test";
import { binPath } from "../helpers/run-executable.ts";

interface FakeNode {
  /** The node's / (what the DaemonSet mounts at /hostroot). */
  root: string;
  /** The node's /opt/cni/bin, as the installer sees it: under the root. */
  bin: string;
  /** /etc/cni/net.d, with the cluster network's config in it. */
  conf: string;
  /** The pod's ServiceAccount volume (thin mode writes a kubeconfig from it). */
  sa: string;
  /** What the image holds (multus-install's --source-dir). */
  src: string;
}

const MASTER = '{"cniVersion":"1.0.0","name":"cluster","type":"bridge","bridge":"cni0"}\n';

/** The shared libraries and the interpreter `ldd dist/bin/multus` names, as absolute paths. */
function lddPaths(): string[] {
  const r = spawnSync("ldd", [binPath("multus")], { encoding: "utf8", timeout: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  const paths: string[] = [];
  for (const line of r.stdout.split("\n")) {
    const m = /=>\s+(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (m?.[1] !== undefined) paths.push(m[1]);
  }
  assert.ok(paths.some((p) => p.includes("libc.so.6")) && paths.some((p) => p.includes("ld-linux")), `ldd lists libc and the loader: ${r.stdout}`);
  return paths;
}

async function fakeNode(t: TestContext): Promise<FakeNode> {
  const work = await mkdtemp(join(tmpdir(), "mt-hostcheck-"));
  t.after(() => rm(work, { recursive: true, force: true }));
  const root = join(work, "root");
  const node: FakeNode = { root, bin: join(root, "opt", "cni", "bin"), conf: join(work, "net.d"), sa: join(work, "serviceaccount"), src: join(work, "image") };
  for (const d of [node.bin, node.conf, node.sa, node.src]) await mkdir(d, { recursive: true });
  // Each at the path ldd names (dereferenced): the loader searches /lib/<triplet> and /lib64 as on the machine.
  for (const p of lddPaths()) {
    await mkdir(join(root, dirname(p)), { recursive: true });
    await copyFile(p, join(root, p));
  }
  for (const f of ["multus", "multus-shim", "multus-native.node"]) await copyFile(binPath(f), join(node.src, f));
  await writeFile(join(node.conf, "10-cluster.conf"), MASTER);
  await writeFile(join(node.sa, "token"), "not-a-real-token\n");
  await writeFile(join(node.sa, "ca.crt"), "not-a-real-ca\n");
  return node;
}

/**
 * `wrap`: a command line the installer runs under (`setpriv …` to drop a capability, `unshare -m sh -c
 * '… "$@"'` to mount something in a mount namespace of its own first); "$@" is the installer's.
 */
function install(node: FakeNode, type: "thick" | "thin", extra: readonly string[] = [], wrap: readonly string[] = []): { status: number | null; stderr: string } {
  const args = ["--type", type, "--source-dir", node.src, "--cni-bin-dir", node.bin, "--cni-conf-dir", node.conf, "--host-root", node.root, "--service-account-dir", node.sa, ...(type === "thin" ? ["--skip-config-watch"] : []), ...extra];
  // No API server is contacted: thin mode only renders the kubeconfig from the volume and the env.
  const [file, ...argv] = [...wrap, binPath("multus-install"), ...args];
  const r = spawnSync(file ?? "", argv, { encoding: "utf8", timeout: 120_000, env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", KUBERNETES_SERVICE_HOST: "127.0.0.1", KUBERNETES_SERVICE_PORT: "6443" } });
  return { status: r.status, stderr: r.stderr };
}

/** The node's config directory holds only what it held before: no Multus config, no kubeconfig. */
async function assertNoConfig(node: FakeNode): Promise<void> {
  const names = await readdir(node.conf, { recursive: true });
  assert.deepEqual(names.filter((n) => n !== "multus.d" && n !== join("multus.d", "install-state.json") && !n.endsWith(".lock")).sort(), ["10-cluster.conf"], `no config written: ${names.join(", ")}`);
}

function libPath(name: string): string {
  const p = lddPaths().find((l) => l.endsWith(`/${name}`));
  assert.ok(p !== undefined, `ldd lists ${name}`);
  return p;
}

/** The newest GLIBC_x.y the executable needs, as objdump reads it. */
function newestGlibc(): string {
  const r = spawnSync("objdump", ["-T", binPath("multus")], { encoding: "utf8", timeout: 60_000, maxBuffer: 64 * 1024 * 1024 });
  assert.equal(r.status, 0, r.stderr);
  const versions = [...new Set([...r.stdout.matchAll(/GLIBC_(\d+(?:\.\d+)+)/g)].map((m) => m[1] ?? ""))];
  const key = (v: string): number[] => v.split(".").map(Number);
  versions.sort((a, b) => {
    const [x, y] = [key(a), key(b)];
    for (let i = 0; i < Math.max(x.length, y.length); i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) - (y[i] ?? 0);
    return 0;
  });
  const newest = versions.at(-1);
  assert.ok(newest !== undefined);
  return newest;
}

describe("multus-install host check: the node must run the executables before any config names them", () => {
  test("HOSTCHECK-PASS a node with glibc, libstdc++ and libgcc_s (what ldd lists): the thin install runs multus chrooted in the node's root for VERSION and writes its config", async (t) => {
    const node = await fakeNode(t);
    const r = install(node, "thin");
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /host check passed: the node runs the installed executables/);
    assert.doesNotMatch(r.stderr, /cannot load multus-native\.node/, "the lock module loads in the node's root");
    assert.match(await readFile(join(node.conf, "00-multus.conflist"), "utf8"), /"type": ?"multus"/);
  });

  test("HOSTCHECK-LIBSTDCXX a node without libstdc++.so.6: the install fails before any config or kubeconfig is written and names the library and what a node needs", async (t) => {
    const node = await fakeNode(t);
    await unlink(join(node.root, libPath("libstdc++.so.6")));
    const r = install(node, "thin");
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /the node cannot run \/opt\/cni\/bin\/multus \(the runtime runs it for every CNI call\): the node has no libstdc\+\+\.so\.6 \(GCC's C\+\+ runtime/);
    assert.match(r.stderr, new RegExp(`A node needs glibc ≥ ${newestGlibc().replace(/\./g, "\\.")} \\(.*\\), libstdc\\+\\+\\.so\\.6 with CXXABI_[\\d.]+, GLIBCXX_[\\d.]+, libgcc_s\\.so\\.1`));
    assert.match(r.stderr, /--skip-host-check/);
    await assertNoConfig(node);
  });

  test("HOSTCHECK-NOGLIBC a node without the glibc loader names it; with musl's loader there it says the node is a musl system", async (t) => {
    const node = await fakeNode(t);
    const loader = lddPaths().find((p) => p.includes("ld-linux"));
    assert.ok(loader !== undefined);
    await unlink(join(node.root, loader));
    const r = install(node, "thin");
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`the node has no ${loader.replace(/[.+]/g, "\\$&")}, the glibc dynamic loader this executable names: the node has no glibc\\.`));
    await assertNoConfig(node);
    // Alpine's layout: /lib/ld-musl-<arch>.so.1 (a marker file: the check looks it up by name).
    await mkdir(join(node.root, "lib"), { recursive: true });
    await writeFile(join(node.root, "lib", "ld-musl-x86_64.so.1"), "");
    const musl = install(node, "thin");
    assert.equal(musl.status, 1, musl.stderr);
    assert.match(musl.stderr, /it is a musl system \(\/lib\/ld-musl-x86_64\.so\.1: Alpine-based or similar\), which cannot run glibc executables/);
    await assertNoConfig(node);
  });

  test("HOSTCHECK-OLDGLIBC a node whose libc.so.6 has only glibc 2.17's symbol versions: the real loader refuses multus and the install says the glibc is older than the newest version the executable needs", async (t) => {
    const node = await fakeNode(t);
    const build = await mkdtemp(join(tmpdir(), "mt-oldlibc-"));
    t.after(() => rm(build, { recursive: true, force: true }));
    await writeFile(join(build, "libc.c"), "int multus_ts_old_libc;\n");
    await writeFile(join(build, "libc.map"), "GLIBC_2.2.5 { global: *; };\nGLIBC_2.17 { } GLIBC_2.2.5;\n");
    const cc = spawnSync("gcc", ["-shared", "-nostdlib", "-fPIC", "-o", join(build, "libc.so.6"), "-Wl,-soname,libc.so.6", `-Wl,--version-script=${join(build, "libc.map")}`, join(build, "libc.c")], { encoding: "utf8", timeout: 60_000 });
    assert.equal(cc.status, 0, cc.stderr);
    await copyFile(join(build, "libc.so.6"), join(node.root, libPath("libc.so.6")));
    const r = install(node, "thin");
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`the node's glibc \\(\\S*libc\\.so\\.6\\) is older than ${newestGlibc().replace(/\./g, "\\.")} \\(the loader: .*version \`GLIBC_`));
    await assertNoConfig(node);
  });

  test("HOSTCHECK-NOEXEC a node whose CNI bin dir is on a noexec file system: the install fails naming noexec (a tmpfs mounted noexec in a mount namespace of the test's own)", async (t) => {
    const node = await fakeNode(t);
    const r = install(node, "thin", [], ["unshare", "--mount", "--propagation", "private", "sh", "-c", `mount -t tmpfs -o noexec mt-noexec '${node.bin}' && exec "$@"`, "sh"]);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /the node cannot run \/opt\/cni\/bin\/multus .*execution is not permitted \(.*Permission denied\): is the node's CNI bin dir on a noexec file system\?/);
    await assertNoConfig(node);
  });

  test("HOSTCHECK-ARCH an executable for another CPU (an AArch64 ELF where multus should be): the install fails naming the architecture", async (t) => {
    const node = await fakeNode(t);
    // The 64-byte ELF header of a little-endian AArch64 executable (e_machine 183) and nothing else:
    // the kernel refuses it (ENOEXEC; chroot's execvp then tries the node's /bin/sh, which this fake
    // node lacks: the exec's own words vary, the message comes from the ELF header).
    const elf = Buffer.alloc(64);
    elf.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1], 0);
    elf.writeUInt16LE(2, 16); // ET_EXEC
    elf.writeUInt16LE(183, 18); // EM_AARCH64
    elf.writeUInt32LE(1, 20);
    elf.writeUInt16LE(64, 52); // e_ehsize
    await writeFile(join(node.src, "multus"), elf, { mode: 0o755 });
    const r = install(node, "thin");
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /the node cannot run \/opt\/cni\/bin\/multus .*: it is built for AArch64 \(arm64\) and the node is x86-64 \(Exec format error\): an image for another architecture\?/);
    await assertNoConfig(node);
  });

  test("HOSTCHECK-CHROOT without CAP_SYS_CHROOT (a securityContext that drops ALL): the install fails naming the capability", async (t) => {
    const node = await fakeNode(t);
    const r = install(node, "thin", [], ["setpriv", "--bounding-set", "-sys_chroot", "--inh-caps", "-sys_chroot", "--"]);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /chroot into .* failed \(.*\): the container needs CAP_SYS_CHROOT/);
    await assertNoConfig(node);
  });

  test("HOSTCHECK-SKIP --skip-host-check installs on a node that fails the check, with a warning", async (t) => {
    const node = await fakeNode(t);
    await unlink(join(node.root, libPath("libstdc++.so.6")));
    const r = install(node, "thin", ["--skip-host-check"]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /"level":"warn".*host check skipped \(--skip-host-check\)/);
    assert.doesNotMatch(r.stderr, /host check passed/);
    assert.match(await readFile(join(node.conf, "00-multus.conflist"), "utf8"), /"type": ?"multus"/);
  });

  test("HOSTCHECK-THICK thick mode also runs the static multus-shim there; a multus-native.node the node cannot load is a warning, not a failure", async (t) => {
    const node = await fakeNode(t);
    await writeFile(join(node.src, "multus-native.node"), "not an ELF shared object\n");
    const r = install(node, "thick");
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /"level":"warn".*the node cannot load multus-native\.node.*multus-native\.node cannot be loaded/);
    assert.match(r.stderr, /host check passed/);
    // A shim the node cannot execute (here: a script whose interpreter the node lacks) fails it.
    await writeFile(join(node.src, "multus-shim"), "#!/bin/no-such-shell\n", { mode: 0o755 });
    const bad = install(node, "thick");
    assert.equal(bad.status, 1, bad.stderr);
    assert.match(bad.stderr, /the node cannot run \/opt\/cni\/bin\/multus-shim \(the runtime runs it for every CNI call\)/);
  });

  test("HOSTCHECK-MOUNTS no node root at --host-root fails before anything is copied; a bin dir the node's root does not show is refused rather than checked", async (t) => {
    const node = await fakeNode(t);
    const missing = spawnSync(binPath("multus-install"), ["--type", "thick", "--source-dir", node.src, "--cni-bin-dir", node.bin, "--cni-conf-dir", node.conf, "--host-root", join(node.root, "nope")], { encoding: "utf8", timeout: 60_000 });
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /the node's root is not mounted at .*nope \(mount hostPath "\/" there read-only/);
    assert.deepEqual(await readdir(node.bin), [], "nothing copied");
    // The bin dir outside the root: the node's root would run another file (here: none) at that path.
    const outside = join(dirname(node.root), "elsewhere-bin");
    await mkdir(outside);
    const r = spawnSync(binPath("multus-install"), ["--type", "thick", "--source-dir", node.src, "--cni-bin-dir", outside, "--cni-conf-dir", node.conf, "--host-root", node.root], { encoding: "utf8", timeout: 60_000 });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /is not the file installed as .*elsewhere-bin\/multus; mount the node's CNI bin dir at its host path/);
  });
});
