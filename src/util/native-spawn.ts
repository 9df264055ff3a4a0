// The delegates' Spawner (src/cni/exec-plugin.ts) over multus-native.node's posix_spawn
// (src/native/spawn.c): glibc starts the child with clone(CLONE_VM | CLONE_VFORK), so nothing of the
// Node process's address space is copied, however big it is. Node's child_process forks, and a fork
// of the daemon costs ≈ 1–2 ms of CPU and blocks its event loop meanwhile (docs/performance.md).
// Same contract as Node's: a session of its own, default signals, pipes as fd 0–2, the locks as 3….
//
// The exit status: libuv reaps only the children it started itself, so ours wait as zombies (their
// PID, and their process group for a kill, not reusable) until reaped here. SIGCHLD (which libuv
// delivers to listeners as to its own handler) triggers a WNOHANG reap of every child still running;
// a 50 ms poll covers a signal that came before the listener, and keeps the event loop alive while a
// child runs whose pipes are already closed.
//
// Exported API:
//   nativeSpawner(): Spawner | undefined   undefined when multus-native.node is not installed
import { Socket } from "node:net";
import { constants as osConstants } from "node:os";
import { getSystemErrorName } from "node:util";
import type { SpawnedProcess, Spawner } from "../cni/exec-plugin.ts";
import { nativeModule, type NativeModule } from "./native-module.ts";

type ExitStatus = Awaited<SpawnedProcess["exit"]>;

const SIGNAL_NAMES = new Map<number, NodeJS.Signals>(Object.entries(osConstants.signals).map(([name, n]) => [n, name as NodeJS.Signals]));
const POLL_MS = 50;

let made: Spawner | null | undefined;

export function nativeSpawner(): Spawner | undefined {
  made ??= makeSpawner(nativeModule());
  return made ?? undefined;
}

function makeSpawner(mod: NativeModule | null): Spawner | null {
  if (mod === null) return null;
  const reaper = new Reaper(mod);
  return (file, args, env, inheritFds) => {
    const envList: string[] = [];
    for (const [k, v] of Object.entries(env)) envList.push(`${k}=${v}`);
    const got = mod.spawn(file, [file, ...args], envList, inheritFds);
    if (typeof got === "number") return Promise.reject(errnoError(got, file));
    const [pid, stdinFd, stdoutFd, stderrFd] = got;
    const exit = reaper.wait(pid);
    return Promise.resolve({
      pid,
      stdin: new Socket({ fd: stdinFd, readable: false, writable: true }),
      stdout: new Socket({ fd: stdoutFd, readable: true, writable: false }),
      stderr: new Socket({ fd: stderrFd, readable: true, writable: false }),
      exit,
    });
  };
}

/** As Node reports a failed exec: code "ENOENT", errno -2, syscall "spawn <file>", path. */
function errnoError(errno: number, file: string): NodeJS.ErrnoException {
  const code = getSystemErrorName(-errno);
  const err: NodeJS.ErrnoException = new Error(`spawn ${file} ${code}`);
  err.code = code;
  err.errno = -errno;
  err.syscall = `spawn ${file}`;
  err.path = file;
  return err;
}

class Reaper {
  readonly #mod: NativeModule;
  readonly #pending = new Map<number, (status: ExitStatus) => void>();
  #timer: NodeJS.Timeout | undefined;
  #listening = false;
  readonly #onSignal = (): void => {
    this.#reapAll();
  };

  constructor(mod: NativeModule) {
    this.#mod = mod;
  }

  wait(pid: number): Promise<ExitStatus> {
    return new Promise((resolve) => {
      this.#pending.set(pid, resolve);
      // Installed once: a signal listener does not keep the event loop alive, the poll does.
      if (!this.#listening) {
        process.on("SIGCHLD", this.#onSignal);
        this.#listening = true;
      }
      this.#timer ??= setInterval(this.#onSignal, POLL_MS);
    });
  }

  #reapAll(): void {
    for (const [pid, resolve] of this.#pending) {
      let status: [number, number] | null;
      try {
        status = this.#mod.reap(pid);
      } catch {
        // Not our child any more (something else reaped it): its status is unknown.
        status = [-1, -1];
      }
      if (status === null) continue;
      this.#pending.delete(pid);
      const [code, sig] = status;
      resolve({ code: code >= 0 ? code : null, sig: sig >= 0 ? (SIGNAL_NAMES.get(sig) ?? null) : null });
    }
    if (this.#pending.size === 0 && this.#timer !== undefined) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }
}
