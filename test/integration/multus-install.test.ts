// dist/bin/multus-install (the DaemonSet's installer) run as a process on directories the test makes,
// against the real kube-apiserver. Real: the API server and its token authentication (TokenRequest
// tokens bound to Secrets, so deleting the Secret makes the server reject the token with 401, as it
// rejects an expired one), RBAC (deploy/moved-config/role.yaml), the thin dist/bin/multus with the
// reference plugins in namespaces the test creates (kube-bed), kubectl. The projected ServiceAccount
// volume is a directory laid out the way the kubelet writes it (a ..data symlink swapped on rotation),
// since no kubelet runs here; the real kubelet's volume is used by test/e2e (install-scenarios.ts).
// The whole DaemonSet flow (kubectl apply -k, real kubelet and containerd) is test/e2e/multus-install.test.ts.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, watch } from "node:fs";
import { chmod, copyFile, mkdir, mkdtemp, readFile, readdir, rename, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test, type TestContext } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { applyYaml, createNamespace, kubectl, repoRoot, tryKubectl, uniqueName, useCluster } from "../cluster/harness.ts";
import { nadYaml, useKubeBed, type KubeBed } from "../helpers/kube-bed.ts";
import { binPath } from "../helpers/run-executable.ts";
import { TEMP_MARK } from "../../src/install/files.ts";
import { ConfigGenerator } from "../../src/install/config-generator.ts";
import { parseDaemonConfig } from "../../src/daemon/daemon-config.ts";
import { createLogger } from "../../src/util/logger.ts";

const cluster = useCluster();
/**
 * These scratch nodes have no node root to chroot into (and some install /bin/sleep as multus): the
 * host check has its own tests (multus-install-host-check.test.ts).
 */
const NO_HOST = ["--skip-host-check"];
const useBed = useKubeBed(cluster, { mode: "thin" });

/** The API server's address and CA, as a pod would get them (KUBERNETES_SERVICE_HOST/PORT, ca.crt). */
async function apiServer(): Promise<{ host: string; port: string; ca: string }> {
  const server = new URL((await kubectl(["config", "view", "--minify", "-o", "jsonpath={.clusters[0].cluster.server}"], { kubeconfig: cluster.multusKubeconfig })).trim());
  return { host: server.hostname, port: server.port, ca: await readFile(join(cluster.stateDir, "pki", "ca.crt"), "utf8") };
}

/** A TokenRequest token for the multus ServiceAccount, bound to a new Secret: deleting the Secret revokes it. */
async function boundToken(t: TestContext): Promise<{ token: string; revoke: () => Promise<void> }> {
  const secret = uniqueName("mt-token", t.name);
  await kubectl(["create", "secret", "generic", secret, "-n", "kube-system"]);
  const token = (await kubectl(["create", "token", "multus", "-n", "kube-system", "--bound-object-kind", "Secret", "--bound-object-name", secret, "--duration", "1h"])).trim();
  const revoke = async (): Promise<void> => {
    await kubectl(["delete", "secret", secret, "-n", "kube-system", "--ignore-not-found"]);
  };
  t.after(revoke);
  return { token, revoke };
}

/**
 * A projected ServiceAccount volume as the kubelet's atomic writer lays it out: the files live in a
 * timestamped directory, `..data` points at it, `token` and `ca.crt` point through `..data`; an
 * update writes a new directory and renames a new `..data` link over the old one.
 */
async function serviceAccountVolume(dir: string, files: Record<string, string>): Promise<void> {
  await mkdir(dir, { recursive: true });
  const generation = `..${new Date().toISOString().replace(/[:.]/g, "_")}.${String(Math.random()).slice(2, 8)}`;
  await mkdir(join(dir, generation));
  for (const [name, content] of Object.entries(files)) await writeFile(join(dir, generation, name), content);
  await symlink(generation, join(dir, "..data_tmp"));
  await rename(join(dir, "..data_tmp"), join(dir, "..data"));
  for (const name of Object.keys(files)) {
    await rm(join(dir, name), { force: true });
    await symlink(join("..data", name), join(dir, name));
  }
}

interface Installer {
  output: () => string;
  stop: () => Promise<number | null>;
}

function startInstaller(t: TestContext, args: readonly string[], env: Record<string, string>): Installer {
  const child = spawn(binPath("multus-install"), args, { env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin", ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => { resolve(code); }));
  const stop = async (): Promise<number | null> => {
    if (child.exitCode === null) child.kill("SIGTERM");
    return exited;
  };
  t.after(stop);
  return { output: () => out, stop };
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${String(timeoutMs)} ms`);
    await sleep(200);
  }
}

async function tree(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const out: string[] = [];
  for (const e of entries) {
    const p = join(e.parentPath, e.name);
    out.push(`${e.isDirectory() ? "d" : "f"} ${p.slice(dir.length)}${e.isFile() ? ` ${createHash("sha256").update(await readFile(p)).digest("hex").slice(0, 16)}` : ""}`);
  }
  return out.sort();
}

/** A scratch "node": <work>/src (what the image would hold), bin (/opt/cni/bin), net.d (/etc/cni/net.d). */
async function scratchNode(t: TestContext, parent = tmpdir()): Promise<{ work: string; src: string; bin: string; conf: string }> {
  const work = await mkdtemp(join(parent, "mt-install-"));
  t.after(() => rm(work, { recursive: true, force: true }));
  const dirs = { work, src: join(work, "src"), bin: join(work, "bin"), conf: join(work, "net.d") };
  for (const d of [dirs.src, dirs.bin, dirs.conf]) await mkdir(d);
  return dirs;
}

describe("multus-install, thin mode: the kubeconfig stays valid", () => {
  let bed: KubeBed;
  test("INSTALL-TOKEN a token the real API server rejects (401) is replaced when the kubelet rotates it: multus-install rewrites the kubeconfig and a thin ADD through it succeeds again", async (t) => {
    bed = useBed();
    const api = await apiServer();
    const work = await mkdtemp(join(tmpdir(), "mt-install-"));
    t.after(() => rm(work, { recursive: true, force: true }));
    const sa = join(work, "serviceaccount");
    const confDir = join(work, "net.d");
    await mkdir(confDir);
    // The node's primary config, so that the installer has a master to wrap.
    await copyFile(join(bed.confDir, "10-cluster.conf"), join(confDir, "10-cluster.conf"));
    const first = await boundToken(t);
    await serviceAccountVolume(sa, { token: first.token, "ca.crt": api.ca, namespace: "kube-system" });
    const installer = startInstaller(
      t,
      ["--type", "thin", "--skip-multus-binary-copy", "--cni-conf-dir", confDir, "--cni-bin-dir", join(work, "bin"), "--service-account-dir", sa, "--resync-seconds", "1", "--delegate-policy", JSON.stringify({ allowedTypes: ["bridge", "host-local"], allowedHostPaths: [`${bed.state}/`] })],
      { KUBERNETES_SERVICE_HOST: api.host, KUBERNETES_SERVICE_PORT: api.port },
    );
    const kubeconfig = join(confDir, "multus.d", "multus.kubeconfig");
    await waitFor("the kubeconfig", async () => (await stat(kubeconfig).catch(() => undefined)) !== undefined);
    // The policy (docs/security.md) is in the config the installer generates, as a thin key.
    await waitFor("the generated config", async () => (await stat(join(confDir, "00-multus.conflist")).catch(() => undefined)) !== undefined);
    const generated = JSON.parse(await readFile(join(confDir, "00-multus.conflist"), "utf8")) as { plugins: { delegatePolicy?: unknown }[] };
    assert.deepEqual(generated.plugins[0]?.delegatePolicy, { allowedTypes: ["bridge", "host-local"], allowedHostPaths: [`${bed.state}/`] });
    assert.equal((await stat(kubeconfig)).mode & 0o777, 0o600);

    const ns = await createNamespace(t);
    await applyYaml(nadYaml(ns, "data", { cniVersion: "1.0.0", type: "bridge", bridge: "mt-instbr0", ipam: { type: "host-local", subnet: "10.61.0.0/24", dataDir: bed.ipamDir } }));
    const conf = bed.conf({ kubeconfig });
    const one = await bed.createPod(ns, "data", "one");
    const add1 = await bed.cni("ADD", one, { conf });
    assert.equal(add1.code, 0, `ADD with the installer's kubeconfig: ${add1.stdout}${add1.stderr}`);

    // The token stops being valid in the API server (its bound Secret is gone: 401, like expiry).
    await first.revoke();
    await waitFor("the API server to reject the revoked token", async () => {
      const r = await tryKubectl(["--kubeconfig", kubeconfig, "auth", "whoami"]);
      return r.code !== 0 && /Unauthorized|must be logged in/i.test(r.stderr);
    }, 60_000);
    const two = await bed.createPod(ns, "data", "two");
    const stale = await bed.cni("ADD", two, { conf });
    assert.notEqual(stale.code, 0, "an ADD with the rejected token fails (the test can see the problem it guards against)");
    assert.match(stale.stdout + stale.stderr, /401|Unauthorized|unauthori[sz]ed/i);
    assert.equal((await bed.cni("DEL", two, { conf })).code, 0);

    // The kubelet rotates the projected token: a new ..data generation.
    const second = await boundToken(t);
    await serviceAccountVolume(sa, { token: second.token, "ca.crt": api.ca, namespace: "kube-system" });
    await waitFor("the kubeconfig to carry the rotated token", async () => (await readFile(kubeconfig, "utf8")).includes(second.token));
    const add2 = await bed.cni("ADD", two, { conf });
    assert.equal(add2.code, 0, `ADD after the rotation: ${add2.stdout}${add2.stderr}`);
    assert.match(installer.output(), /refreshed the kubeconfig for thin Multus/);

    for (const p of [one, two]) assert.equal((await bed.cni("DEL", p, { conf })).code, 0);
    for (const p of [one, two]) assert.deepEqual(await bed.residue(p), []);
    // SIGTERM: the config and kubeconfig stay (multus#1527).
    assert.equal(await installer.stop(), 0);
    await stat(kubeconfig);
    await stat(join(confDir, "00-multus.conflist"));
  });
});

describe("multus-install: executables and the install record", () => {
  test("INSTALL-TXTBSY an executable in use is replaced by rename (multus#1221): cp over it fails with ETXTBSY, multus-install succeeds, the running process is untouched, passthru is a hard link", async (t) => {
    const { src, bin, conf } = await scratchNode(t);
    // v1 is a real binary that keeps running (so the kernel holds it busy); v2 another one.
    await copyFile("/bin/sleep", join(src, "multus"));
    await copyFile(binPath("multus-shim"), join(src, "multus-shim"));
    await copyFile(binPath("multus-native.node"), join(src, "multus-native.node"));
    const args = ["--type", "thick", "--source-dir", src, "--cni-bin-dir", bin, "--cni-conf-dir", conf, ...NO_HOST];
    const first = spawnSync(binPath("multus-install"), args, { encoding: "utf8" });
    assert.equal(first.status, 0, first.stderr);
    const running = spawn(join(bin, "multus"), ["30"], { stdio: "ignore" });
    t.after(() => running.kill("SIGKILL"));
    await sleep(200);
    const cp = spawnSync("cp", ["/bin/true", join(bin, "multus")], { encoding: "utf8" });
    assert.notEqual(cp.status, 0);
    assert.match(cp.stderr, /Text file busy/, "writing into the running file is what fails on a node");
    await copyFile("/bin/true", join(src, "multus"));
    const second = spawnSync(binPath("multus-install"), args, { encoding: "utf8" });
    assert.equal(second.status, 0, second.stderr);
    assert.equal(running.exitCode, null, "the running process is untouched");
    assert.deepEqual(await readFile(join(bin, "multus")), await readFile("/bin/true"), "the next exec runs the new file");
    const [m, p] = await Promise.all([stat(join(bin, "multus")), stat(join(bin, "passthru"))]);
    assert.equal(p.ino, m.ino, "passthru is a hard link to multus");
    const third = spawnSync(binPath("multus-install"), args, { encoding: "utf8" });
    assert.match(third.stderr, /already up to date/, "an unchanged executable is not rewritten");
    assert.equal(spawnSync("sh", ["-c", `ls -A ${bin} | grep -c multus-install`], { encoding: "utf8" }).stdout.trim(), "0", "no temporary file is left");
  });

  test("INSTALL-FSYNC every installed executable is fsynced before its rename and its directory after it, so a power loss never leaves a zero-length multus-shim (strace of the real installer)", async (t) => {
    const { src, bin, conf } = await scratchNode(t);
    for (const f of ["multus", "multus-shim", "multus-native.node"]) await copyFile(binPath(f), join(src, f));
    const trace = join(src, "..", "strace.out");
    // -f: libuv's thread pool does the file work; -y: each descriptor with the path it names.
    const r = spawnSync("strace", ["-f", "-y", "-qq", "-e", "trace=fsync,fdatasync,rename,renameat,renameat2", "-o", trace, binPath("multus-install"), "--type", "thick", "--source-dir", src, "--cni-bin-dir", bin, "--cni-conf-dir", conf, ...NO_HOST], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    const lines = (await readFile(trace, "utf8")).split("\n");
    for (const name of ["multus", "multus-shim", "multus-native.node", "passthru", "vfioveth"]) {
      const temp = new RegExp(`${escapeRegExp(join(bin, `.${name}`))}\\.multus-install-`);
      const synced = lines.findIndex((l) => /\b(fsync|fdatasync)\(\d+</.test(l) && temp.test(l));
      const renamed = lines.findIndex((l) => /\brename(at2?)?\(/.test(l) && temp.test(l) && l.includes(`"${join(bin, name)}"`));
      const dirSynced = lines.findIndex((l, i) => i > renamed && new RegExp(`\\bfsync\\(\\d+<${escapeRegExp(bin)}>\\)`).test(l));
      assert.ok(synced >= 0 && renamed > synced && dirSynced > renamed, `${name}: data fsynced (line ${String(synced)}), renamed (line ${String(renamed)}), directory fsynced (line ${String(dirSynced)})`);
    }
  });

  test("INSTALL-UNDO uninstall puts the directories back exactly, also after an install that failed half-way, and puts back a file the install replaced", async (t) => {
    const { work, src, bin, conf } = await scratchNode(t);
    await writeFile(join(bin, "bridge"), "#!/bin/sh\n");
    await chmod(join(bin, "bridge"), 0o755);
    await writeFile(join(conf, "10-cluster.conf"), '{"cniVersion":"1.0.0","name":"cluster","type":"bridge"}\n');
    // An older passthru (upstream's, say) that the install replaces by a link and uninstall puts back.
    await writeFile(join(bin, "passthru"), "#!/bin/sh\n# upstream passthru\n", { mode: 0o755 });
    const before = await tree(work);
    const withoutSrc = (lines: string[]): string[] => lines.filter((l) => !l.includes(" /src"));
    // multus-shim is missing from the source: the install fails before it writes anything.
    await copyFile(binPath("multus-shim"), join(src, "multus"));
    await copyFile(binPath("multus-native.node"), join(src, "multus-native.node"));
    const args = ["--type", "thick", "--source-dir", src, "--cni-bin-dir", bin, "--cni-conf-dir", conf, ...NO_HOST];
    const failed = spawnSync(binPath("multus-install"), args, { encoding: "utf8" });
    assert.equal(failed.status, 1);
    assert.match(failed.stderr, /cannot install multus-shim: .*multus-shim/);
    assert.deepEqual(withoutSrc(await tree(work)), withoutSrc(before), "bad input leaves nothing behind");
    // Thin without a ServiceAccount: the same, before a single executable is copied.
    const thin = spawnSync(binPath("multus-install"), ["--type", "thin", "--source-dir", src, "--cni-bin-dir", bin, "--cni-conf-dir", conf, ...NO_HOST], { encoding: "utf8", env: {} });
    assert.equal(thin.status, 1);
    assert.match(thin.stderr, /KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set/);
    assert.deepEqual(withoutSrc(await tree(work)), withoutSrc(before));
    // A --delegate-policy the engine would refuse fails the install, naming the key, before anything is written.
    for (const [policy, message] of [["{", /--delegate-policy is not JSON/], ['{"allowedHostPaths":["relative/dir"]}', /key "delegatePolicy\.allowedHostPaths\.0": a host path must be absolute/], ['{"allowedTypos":[]}', /delegatePolicy/]] as const) {
      const bad = spawnSync(binPath("multus-install"), ["--type", "thin", "--source-dir", src, "--cni-bin-dir", bin, "--cni-conf-dir", conf, ...NO_HOST, "--delegate-policy", policy], { encoding: "utf8", env: {} });
      assert.equal(bad.status, 1, policy);
      assert.match(bad.stderr, message);
      assert.deepEqual(withoutSrc(await tree(work)), withoutSrc(before));
    }
    // A complete thick install, the daemon's config, then uninstall: the same.
    await copyFile(binPath("multus-shim"), join(src, "multus-shim"));
    const ok = spawnSync(binPath("multus-install"), args, { encoding: "utf8" });
    assert.equal(ok.status, 0, ok.stderr);
    await writeFile(join(conf, "00-multus.conflist"), '{"cniVersion":"1.0.0","name":"multus-cni-network","plugins":[{"type":"multus-shim"}]}\n');
    const beforeUndo = await tree(work);
    assert.notDeepEqual(beforeUndo, before);
    assert.equal(spawnSync(binPath("multus-install"), ["uninstall", "--cni-conf-dir", conf], { encoding: "utf8" }).status, 0);
    assert.deepEqual(withoutSrc(await tree(work)), withoutSrc(before));
    // Twice is fine: nothing to do.
    const again = spawnSync(binPath("multus-install"), ["uninstall", "--cni-conf-dir", conf], { encoding: "utf8" });
    assert.equal(again.status, 0);
    assert.match(again.stderr, /no install record/);
  });
});

describe("uninstall after a rollback to upstream Multus", () => {
  test("INSTALL-UNDO uninstall removes the Multus config Multus-TS wrote, never upstream's own 00-multus.conf (a rollback: upstream's daemon wrote it after ours)", async (t) => {
    const { work, src, bin, conf } = await scratchNode(t);
    await writeFile(join(conf, "10-cluster.conflist"), '{"cniVersion":"1.0.0","name":"cluster","plugins":[{"type":"bridge"}]}\n');
    const before = await tree(work);
    const withoutSrc = (lines: string[]): string[] => lines.filter((l) => !l.includes(" /src"));
    for (const exe of ["multus-shim", "multus", "multus-native.node"]) await copyFile(binPath(exe), join(src, exe));
    const ok = spawnSync(binPath("multus-install"), ["--type", "thick", "--source-dir", src, "--cni-bin-dir", bin, "--cni-conf-dir", conf, ...NO_HOST], { encoding: "utf8" });
    assert.equal(ok.status, 0, ok.stderr);
    // The daemon's generator (the code multus-daemon runs) writes 00-multus.conflist and notes it.
    const g = new ConfigGenerator({ config: parseDaemonConfig({ cniConfigDir: conf, multusAutoconfigDir: conf }, "daemon-config.json"), log: createLogger({ level: "error", stderr: () => undefined, component: "test" }) });
    await g.sync("test");
    await g.stop();
    assert.ok(existsSync(join(conf, "00-multus.conflist")));
    // Then upstream's daemon is back and writes its own (as upstream v4.3.0's thick daemon does).
    const upstream = '{"capabilities":{"portMappings":true},"cniVersion":"0.3.1","logLevel":"verbose","logToStderr":true,"name":"multus-cni-network","clusterNetwork":"/host/etc/cni/net.d/10-cluster.conflist","type":"multus-shim"}';
    await writeFile(join(conf, "00-multus.conf"), upstream);
    const undo = spawnSync(binPath("multus-install"), ["uninstall", "--cni-conf-dir", conf], { encoding: "utf8" });
    assert.equal(undo.status, 0, undo.stderr);
    assert.match(undo.stderr, /00-multus\.conf \(a Multus config Multus-TS did not write\)/);
    assert.equal(await readFile(join(conf, "00-multus.conf"), "utf8"), upstream, "upstream's config is left as upstream wrote it");
    assert.deepEqual(withoutSrc(await tree(work)).filter((l) => !l.includes("00-multus.conf")), withoutSrc(before), "everything of Multus-TS is gone, its record of written configs too");
  });
});

describe("multus-install killed with SIGKILL", () => {
  test("INSTALL-KILL an install killed at any moment (before the record, during the 127 MiB copy, after it) leaves a record that uninstall undoes exactly, temporary copies included", async (t) => {
    // On tmpfs when the machine has one: a file system that reflinks (XFS, btrfs) makes the copy
    // instant, and the kill mid-copy below needs a copy that takes time.
    const { work, src, bin, conf } = await scratchNode(t, existsSync("/dev/shm") ? "/dev/shm" : tmpdir());
    await copyFile(binPath("multus"), join(src, "multus"));
    await copyFile(binPath("multus-shim"), join(src, "multus-shim"));
    await copyFile(binPath("multus-native.node"), join(src, "multus-native.node"));
    await writeFile(join(bin, "bridge"), "#!/bin/sh\n", { mode: 0o755 });
    const withoutSrc = (lines: string[]): string[] => lines.filter((l) => !l.includes(" /src"));
    const before = withoutSrc(await tree(work));
    const args = ["--type", "thick", "--source-dir", src, "--cni-bin-dir", bin, "--cni-conf-dir", conf, ...NO_HOST];
    const undoAndCompare = async (when: string): Promise<void> => {
      const undo = spawnSync(binPath("multus-install"), ["uninstall", "--cni-conf-dir", conf], { encoding: "utf8" });
      assert.equal(undo.status, 0, `uninstall after a kill ${when}: ${undo.stderr}`);
      assert.deepEqual(withoutSrc(await tree(work)), before, `the node is as before after a kill ${when}`);
    };
    // Kills at fixed delays: before the record, during the copies, after the install (timing decides which).
    for (const delayMs of [0, 40, 80, 120, 160, 220, 300, 420, 600]) {
      const child = spawn(binPath("multus-install"), args, { stdio: "ignore" });
      // Listened to at once: at the longer delays the install may be done before the kill.
      const closed = new Promise((resolve) => child.on("close", resolve));
      await sleep(delayMs);
      child.kill("SIGKILL");
      await closed;
      await undoAndCompare(`at ${String(delayMs)} ms`);
    }
    // And one kill that lands during the copy of multus by construction: the temporary file's creation
    // (inotify) stops the installer, and it is killed while stopped with the temporary file there.
    const bigTemp = `.multus${TEMP_MARK}`;
    let midCopy = false;
    for (let attempt = 0; attempt < 5 && !midCopy; attempt++) {
      const watcher = watch(bin);
      const child = spawn(binPath("multus-install"), args, { stdio: "ignore" });
      const closed = new Promise((resolve) => child.on("close", resolve));
      const stopped = await new Promise<boolean>((resolve) => {
        watcher.on("change", (_event, name) => {
          if (typeof name === "string" && name.startsWith(bigTemp) && child.kill("SIGSTOP")) resolve(true);
        });
        void closed.then(() => {
          resolve(false);
        });
      });
      watcher.close();
      midCopy = stopped && (await readdir(bin)).some((n) => n.startsWith(bigTemp));
      child.kill("SIGKILL");
      await closed;
      if (midCopy) assert.ok((await readdir(bin)).some((n) => n.startsWith(bigTemp)), "the killed copy left its temporary file");
      await undoAndCompare(`during the copy (attempt ${String(attempt + 1)})`);
    }
    assert.ok(midCopy, "a kill landed during the copy of multus (its temporary file was left for uninstall to clean)");
  });
});

describe("multus-install --move-original-config (seed 004)", () => {
  const roleFile = join(repoRoot, "deploy", "moved-config", "role.yaml");
  const uninstallRbac = join(repoRoot, "deploy", "uninstall", "rbac.yaml");
  after(async () => {
    await kubectl(["delete", "-f", roleFile, "-f", uninstallRbac, "--ignore-not-found"]);
  });

  test("INSTALL-MOVED RBAC: deploy/moved-config/role.yaml lets the multus ServiceAccount create NADs in kube-system only, never change or delete one; deploy/uninstall's own ServiceAccount may delete them", async () => {
    await kubectl(["apply", "-f", roleFile, "-f", uninstallRbac]);
    const canI = async (verb: string, namespace: string, as = "multus"): Promise<string> =>
      (await tryKubectl(["auth", "can-i", verb, "network-attachment-definitions.k8s.cni.cncf.io", "-n", namespace, `--as=system:serviceaccount:kube-system:${as}`])).stdout.trim();
    for (const verb of ["get", "create"]) assert.equal(await canI(verb, "kube-system"), "yes", `${verb} in kube-system`);
    for (const verb of ["update", "patch", "delete"]) assert.equal(await canI(verb, "kube-system"), "no", `${verb} in kube-system`);
    for (const verb of ["create", "patch", "delete"]) assert.equal(await canI(verb, "default"), "no", `${verb} in default`);
    assert.equal(await canI("delete", "kube-system", "multus-uninstall"), "yes");
    for (const verb of ["create", "patch"]) assert.equal(await canI(verb, "kube-system", "multus-uninstall"), "no", `uninstaller ${verb}`);
    assert.equal(await canI("delete", "default", "multus-uninstall"), "no");
  });

  test("INSTALL-MOVED the master config is moved to multus/net.d unaltered, a config-less NAD of its name is created in kube-system, 10-multus.conf names it; with the API unreachable nothing moves; uninstall restores the file and deletes the NAD", async (t) => {
    await kubectl(["apply", "-f", roleFile]);
    const api = await apiServer();
    const work = await mkdtemp(join(tmpdir(), "mt-install-"));
    t.after(() => rm(work, { recursive: true, force: true }));
    const etc = join(work, "etc-cni");
    const confDir = join(etc, "net.d");
    await mkdir(confDir, { recursive: true });
    const netName = uniqueName("mt-moved", "");
    const original = `{"cniVersion":"1.0.0","name":"${netName}","plugins":[{"type":"bridge","bridge":"mt-movedbr0","capabilities":{"portMappings":true}}]}\n`;
    await writeFile(join(confDir, "10-kindnet.conflist"), original);
    const before = await tree(etc);
    const token = (await kubectl(["create", "token", "multus", "-n", "kube-system", "--duration", "1h"])).trim();
    const sa = join(work, "serviceaccount");
    await serviceAccountVolume(sa, { token, "ca.crt": api.ca, namespace: "kube-system" });
    const args = ["--type", "thin", "--move-original-config", "--skip-multus-binary-copy", "--skip-config-watch", "--cni-conf-dir", confDir, "--multus-cni-conf-dir", join(etc, "multus", "net.d"), "--cni-bin-dir", join(work, "bin"), "--service-account-dir", sa];

    // No API (nothing answers on port 1): the install fails, and the node keeps its config.
    const down = spawnSync(binPath("multus-install"), args, { encoding: "utf8", env: { KUBERNETES_SERVICE_HOST: "127.0.0.1", KUBERNETES_SERVICE_PORT: "1" } });
    assert.equal(down.status, 1);
    assert.match(down.stderr, /install failed/);
    assert.equal(await readFile(join(confDir, "10-kindnet.conflist"), "utf8"), original, "nothing moved while the NAD could not be made");

    const env = { KUBERNETES_SERVICE_HOST: api.host, KUBERNETES_SERVICE_PORT: api.port };
    const ok = spawnSync(binPath("multus-install"), args, { encoding: "utf8", env });
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(await readFile(join(etc, "multus", "net.d", `${netName}.conflist`), "utf8"), original, "moved, not altered");
    await assert.rejects(stat(join(confDir, "10-kindnet.conflist")));
    const nad = JSON.parse(await kubectl(["get", "net-attach-def", netName, "-n", "kube-system", "-o", "json"])) as { spec?: { config?: string } };
    assert.equal(nad.spec?.config, undefined, "the NAD has no config of its own: every node's moved file is its config");
    const conf = JSON.parse(await readFile(join(confDir, "10-multus.conf"), "utf8")) as Record<string, unknown>;
    assert.equal(conf["clusterNetwork"], netName);
    assert.equal(conf["confDir"], join(etc, "multus", "net.d"));
    assert.deepEqual(conf["capabilities"], { portMappings: true });

    // The uninstaller's own ServiceAccount (deploy/uninstall/rbac.yaml) deletes the NAD.
    await kubectl(["apply", "-f", uninstallRbac]);
    const uninstallToken = (await kubectl(["create", "token", "multus-uninstall", "-n", "kube-system", "--duration", "1h"])).trim();
    const usa = join(work, "uninstall-serviceaccount");
    await serviceAccountVolume(usa, { token: uninstallToken, "ca.crt": api.ca, namespace: "kube-system" });
    const undo = spawnSync(binPath("multus-install"), ["uninstall", "--cni-conf-dir", confDir, "--service-account-dir", usa], { encoding: "utf8", env });
    assert.equal(undo.status, 0, undo.stderr);
    assert.deepEqual(await tree(etc), before, "the original config is back, nothing of Multus is left");
    assert.notEqual((await tryKubectl(["get", "net-attach-def", netName, "-n", "kube-system"])).code, 0, "the NAD is deleted");
  });
});

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
