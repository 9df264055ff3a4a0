// Fake CNI plugins for the protocol edge cases that no reference plugin produces (a dump of the exact
// environment, a plugin that hangs, a legacy VERSION reply, a STATUS 50, a GC recorder…). Each fake is
// a small /bin/sh script in a temporary directory; its behaviour per CNI_COMMAND lives in data files
// next to it, so no JSON is ever quoted into shell code.
//
// Exported API:
//   interface FakeBehaviour { stdout?: string; stderr?: string; exitCode?: number; sleepSeconds?: number }
//   interface FakePluginSpec { name: string; on?: Partial<Record<CniCommand | "*", FakeBehaviour>> }
//   interface Invocation { seq; plugin; command; env: Record<string,string>; stdin: string; pid: number;
//                          request(): Record<string, unknown> /* stdin parsed */ }
//   class FakePluginDir
//     static create(): Promise<FakePluginDir>     a fresh temp dir (bin/ + rec/ + data/)
//     binDir: string                              put it in the runner's plugin dirs
//     add(spec): Promise<string>                  writes the script, returns its path
//     setBehaviour(name, command, b): Promise<void>   change a fake between calls
//     invocations(): Promise<Invocation[]>        every call so far, across all fakes, in call order
//     clear(): Promise<void>                      forget recorded calls
//     remove(): Promise<void>
//
// Each call records its environment (`env -0`), its stdin and its PID, then: prints `stderr`, sleeps
// `sleepSeconds`, prints `stdout`, exits with `exitCode` (default 0). Behaviour for a command falls back
// to "*", then to "exit 0, print nothing".

import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CniCommand } from "../../src/cni/types.ts";

export interface FakeBehaviour {
  stdout?: string;
  stderr?: string;
  exitCode?: number;
  sleepSeconds?: number;
}

export interface FakePluginSpec {
  name: string;
  on?: Partial<Record<CniCommand | "*", FakeBehaviour>>;
}

export interface Invocation {
  seq: number;
  plugin: string;
  command: string;
  env: Record<string, string>;
  stdin: string;
  pid: number;
  request(): Record<string, unknown>;
}

function script(recDir: string, dataDir: string, name: string): string {
  for (const p of [recDir, dataDir, name]) {
    if (/['\n\\]/.test(p)) throw new Error(`unsafe path for a fake plugin: ${p}`);
  }
  return `#!/bin/sh
# Fake CNI plugin "${name}" written by test/helpers/fake-plugin.ts
rec='${recDir}'
data='${dataDir}/${name}'
while ! mkdir "$rec/.lock" 2>/dev/null; do sleep 0.01; done
n=$(cat "$rec/counter" 2>/dev/null || echo 0)
n=$((n + 1))
echo "$n" > "$rec/counter"
rmdir "$rec/.lock"
base="$rec/$(printf %06d "$n")"
echo '${name}' > "$base.plugin"
echo $$ > "$base.pid"
env -0 > "$base.env"
cat > "$base.stdin"
b="$data/\${CNI_COMMAND:-none}"
[ -d "$b" ] || b="$data/_any"
[ -f "$b/stderr" ] && cat "$b/stderr" >&2
[ -f "$b/sleep" ] && sleep "$(cat "$b/sleep")"
[ -f "$b/stdout" ] && cat "$b/stdout"
code=0
[ -f "$b/exit" ] && code=$(cat "$b/exit")
exit "$code"
`;
}

export class FakePluginDir {
  readonly root: string;
  readonly binDir: string;
  private readonly recDir: string;
  private readonly dataDir: string;

  private constructor(root: string) {
    this.root = root;
    this.binDir = join(root, "bin");
    this.recDir = join(root, "rec");
    this.dataDir = join(root, "data");
  }

  static async create(): Promise<FakePluginDir> {
    const root = await mkdtemp(join(tmpdir(), "mt-fake-"));
    const d = new FakePluginDir(root);
    await Promise.all([mkdir(d.binDir), mkdir(d.recDir), mkdir(d.dataDir)]);
    return d;
  }

  /** (Re)define a fake: any behaviour set earlier for this name is forgotten. */
  async add(spec: FakePluginSpec): Promise<string> {
    await rm(join(this.dataDir, spec.name), { recursive: true, force: true });
    await mkdir(join(this.dataDir, spec.name), { recursive: true });
    for (const [command, b] of Object.entries(spec.on ?? {})) {
      await this.setBehaviour(spec.name, command as CniCommand | "*", b);
    }
    const path = join(this.binDir, spec.name);
    await writeFile(path, script(this.recDir, this.dataDir, spec.name));
    await chmod(path, 0o755);
    return path;
  }

  async setBehaviour(name: string, command: CniCommand | "*", b: FakeBehaviour): Promise<void> {
    const dir = join(this.dataDir, name, command === "*" ? "_any" : command);
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    if (b.stdout !== undefined) await writeFile(join(dir, "stdout"), b.stdout);
    if (b.stderr !== undefined) await writeFile(join(dir, "stderr"), b.stderr);
    if (b.exitCode !== undefined) await writeFile(join(dir, "exit"), String(b.exitCode));
    if (b.sleepSeconds !== undefined) await writeFile(join(dir, "sleep"), String(b.sleepSeconds));
  }

  async invocations(): Promise<Invocation[]> {
    const names = (await readdir(this.recDir)).filter((n) => n.endsWith(".plugin")).sort();
    const out: Invocation[] = [];
    for (const n of names) {
      const base = join(this.recDir, n.slice(0, -".plugin".length));
      const [plugin, pid, envRaw, stdin] = await Promise.all([
        readFile(`${base}.plugin`, "utf8"),
        readFile(`${base}.pid`, "utf8"),
        readFile(`${base}.env`, "utf8").catch(() => ""),
        readFile(`${base}.stdin`, "utf8").catch(() => ""),
      ]);
      const env: Record<string, string> = {};
      for (const kv of envRaw.split("\0")) {
        const eq = kv.indexOf("=");
        if (eq > 0) env[kv.slice(0, eq)] = kv.slice(eq + 1);
      }
      out.push({
        seq: Number(n.slice(0, -".plugin".length)),
        plugin: plugin.trim(),
        command: env.CNI_COMMAND ?? "",
        env,
        stdin,
        pid: Number(pid.trim()),
        request(): Record<string, unknown> {
          const v: unknown = JSON.parse(stdin);
          if (typeof v !== "object" || v === null || Array.isArray(v)) throw new Error(`fake plugin stdin is not an object: ${stdin}`);
          return v as Record<string, unknown>;
        },
      });
    }
    return out;
  }

  async clear(): Promise<void> {
    await rm(this.recDir, { recursive: true, force: true });
    await mkdir(this.recDir);
  }

  async remove(): Promise<void> {
    await rm(this.root, { recursive: true, force: true });
  }
}
