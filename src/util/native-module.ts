// multus-native.node (src/native/*.c): the system calls Node has no binding for — flock(2) for the
// locks (file-lock.ts) and posix_spawn(3) for the delegates (native-spawn.ts) — as one Node-API
// module the executable loads from its own directory (dist/bin, /opt/cni/bin, the image's
// /usr/local/bin). Without it (a copy of the executable alone, the tests run from source) each user
// has its fallback: util-linux `flock`, Node's child_process.
//
// Exported API:
//   NATIVE_MODULE_NAME = "multus-native.node"
//   interface NativeModule { flock, spawn, reap }   (the C signatures: src/native/*.c)
//   nativeModule(): NativeModule | null   loaded once; null when the file is not there
//     A file that is there but does not load (or is not this module) throws NativeModuleError: a
//     broken install is reported, not silently replaced by the fallback.
//   useNativeModule(path | undefined): void   tests: load the module from `path`, or never (undefined)
import { accessSync, constants } from "node:fs";
import { dirname, join } from "node:path";

export const NATIVE_MODULE_NAME = "multus-native.node";

export interface NativeModule {
  /** flock(fd, LOCK_EX or LOCK_SH | LOCK_NB): 0, or the errno. */
  flock(fd: number, exclusive: boolean): number;
  /** posix_spawn with fresh stdio pipes and `fds` as fd 3…: [pid, stdin, stdout, stderr], or the errno. */
  spawn(file: string, argv: readonly string[], env: readonly string[], fds: readonly number[]): [number, number, number, number] | number;
  /** waitpid(pid, WNOHANG): null while it runs, else [exit code, signal number] (-1 for the one that does not apply). */
  reap(pid: number): [number, number] | null;
}

export class NativeModuleError extends Error {
  constructor(msg: string, options?: ErrorOptions) {
    super(msg, options);
    this.name = "NativeModuleError";
  }
}

let loaded: NativeModule | null | undefined;

export function nativeModule(): NativeModule | null {
  if (loaded === undefined) loaded = load(join(dirname(process.execPath), NATIVE_MODULE_NAME));
  return loaded;
}

export function useNativeModule(path: string | undefined): void {
  loaded = path === undefined ? null : load(path);
}

function load(path: string): NativeModule | null {
  try {
    accessSync(path, constants.F_OK);
  } catch (err) {
    // Only a missing file means "not installed"; anything else (EACCES) is a broken install, below.
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
  }
  const mod = { exports: {} as Partial<NativeModule> };
  try {
    process.dlopen(mod, path);
  } catch (err) {
    throw new NativeModuleError(`${path} cannot be loaded (${(err as Error).message}); reinstall it from the same release as ${process.execPath}`, { cause: err });
  }
  const e = mod.exports;
  if (typeof e.flock !== "function" || typeof e.spawn !== "function" || typeof e.reap !== "function") {
    throw new NativeModuleError(`${path} is not ${NATIVE_MODULE_NAME} of this release (it lacks flock, spawn or reap); reinstall it from the same release as ${process.execPath}`);
  }
  return e as NativeModule;
}
