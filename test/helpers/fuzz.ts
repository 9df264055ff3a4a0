// Property and fuzz tests (fast-check) of the parsers of untrusted input (docs/testing.md, "Property
// and fuzz tests"). Each property runs in a worker thread of its test file, so that a hang is caught
// even when it is a synchronous loop that no timer in the same thread could interrupt: the worker
// reports every run to the test, and an input that takes longer than MULTUS_TS_FUZZ_INPUT_MS
// terminates it and fails the test, naming the run and how to replay it.
//
//   MULTUS_TS_FUZZ_RUNS       runs per property, times the property's weight (default 100)
//   MULTUS_TS_FUZZ_SEED       fast-check's seed (default: a new one per file run; printed on failure)
//   MULTUS_TS_FUZZ_PATH       with the seed and --test-name-pattern: replays one counterexample
//   MULTUS_TS_FUZZ_INPUT_MS   the longest one input may take (default 10000)
//
// A test file calls fuzzProperties(import.meta.url, {...}) once and registers any other test through
// fuzzExample (a worker must not register tests of its own).
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { lstat, mkdtemp, readdir, readFile, readlink, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import fc from "fast-check";

function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n)) throw new Error(`${name}=${raw} is not an integer`);
  return n;
}

/** Runs per property of weight 1. The default keeps all fuzz files together near 15 s on 2 cores. */
export const FUZZ_RUNS = Math.max(1, envInt("MULTUS_TS_FUZZ_RUNS", 100));
const INPUT_MS = Math.max(1, envInt("MULTUS_TS_FUZZ_INPUT_MS", 10_000));
const SEED = envInt("MULTUS_TS_FUZZ_SEED", (Date.now() ^ Math.floor(Math.random() * 0x1_0000_0000)) | 0);
const PATH = process.env["MULTUS_TS_FUZZ_PATH"];

export interface FuzzContext {
  /** An empty directory of this property's own, removed after the file's tests. */
  dir: string;
}

interface Failure {
  report: string;
  path?: string;
}

/** One property, its type parameter erased (see fuzz()). */
export interface FuzzSpec {
  weight: number;
  /** Runs the property: undefined when it holds, else the report and the counterexample's replay path. */
  check: (ctx: FuzzContext, params: { seed: number; numRuns: number; path?: string; onRun: () => void }) => Promise<Failure | undefined>;
}

/**
 * A property for fuzzProperties. `weight` scales its run count: cheap properties run more inputs,
 * those that write files fewer.
 */
export function fuzz<Ts>(property: (ctx: FuzzContext) => fc.IRawProperty<Ts>, opts: { weight?: number } = {}): FuzzSpec {
  return {
    weight: opts.weight ?? 1,
    check: async (ctx, { seed, numRuns, path, onRun }) => {
      const details = await fc.check(property(ctx), {
        seed,
        numRuns,
        ...(path === undefined ? {} : { path }),
        plugins: [fc.beforeEach(onRun)],
      });
      if (!details.failed) return undefined;
      const error = details.errorInstance;
      const why = error instanceof Error ? (error.stack ?? String(error)) : String(error);
      const report = [
        `property failed after ${String(details.numRuns)} run(s), shrunk ${String(details.numShrinks)} time(s)`,
        `counterexample: ${details.counterexample === null ? "(none)" : fc.stringify(details.counterexample).slice(0, 1500)}`,
        `error: ${why}`,
      ].join("\n");
      return details.counterexamplePath === null ? { report } : { report, path: details.counterexamplePath };
    },
  };
}

/**
 * A plain test beside the properties (an explicit regression example): registered in the main thread
 * only. `todo` marks a defect found but not fixed here (the test runs; its failure is reported, not counted).
 */
export function fuzzExample(name: string, fn: () => void | Promise<void>, opts: { todo?: string } = {}): void {
  if (isMainThread) test(name, opts.todo === undefined ? {} : { todo: opts.todo }, fn);
}

interface RunRequest {
  name: string;
  seed: number;
  numRuns: number;
  path?: string;
  dir: string;
}

type WorkerMessage = { run: number } | { done: true; failure?: Failure };

interface WorkerData {
  fuzzModule?: string;
}

/**
 * Registers one test per property of the calling file (`moduleUrl` = its import.meta.url). In the
 * file's own worker the same call serves the properties instead.
 */
export function fuzzProperties(moduleUrl: string, properties: Readonly<Record<string, FuzzSpec>>): void {
  if (!isMainThread) {
    if ((workerData as WorkerData | null)?.fuzzModule === moduleUrl) serve(properties);
    return;
  }
  const file = relative(process.cwd(), fileURLToPath(moduleUrl));
  let root: Promise<string> | undefined;
  let worker: Worker | undefined;
  after(async () => {
    await worker?.terminate();
    if (root !== undefined) await rm(await root, { recursive: true, force: true });
  });
  let index = 0;
  for (const [name, spec] of Object.entries(properties)) {
    const numRuns = Math.max(1, Math.round(FUZZ_RUNS * spec.weight));
    const dirName = String(index++);
    // A hang is the worker's watchdog's to report; this bounds a property that is only slow overall.
    test(name, { timeout: 120_000 + numRuns * 20 }, async (t) => {
      root ??= mkdtemp(join(tmpdir(), "mt-fuzz-"));
      const dir = join(await root, dirName);
      worker ??= new Worker(new URL(moduleUrl), { workerData: { fuzzModule: moduleUrl } satisfies WorkerData });
      const w = worker;
      const request: RunRequest = { name, seed: SEED, numRuns, dir, ...(PATH === undefined ? {} : { path: PATH }) };
      const replay = `MULTUS_TS_FUZZ_SEED=${String(SEED)}`;
      const rerun = `node --test --test-name-pattern=${JSON.stringify(`^${escapeRegExp(name)}$`)} ${file}`;
      const outcome = await new Promise<string | undefined>((resolve, reject) => {
        let runs = 0;
        let last = Date.now();
        const watchdog = setInterval(() => {
          if (Date.now() - last <= INPUT_MS) return;
          const which = runs <= numRuns ? `run ${String(runs)} (replay: ${replay} MULTUS_TS_FUZZ_PATH=${String(runs - 1)} ${rerun})` : `a run while shrinking a failure (replay the seed: ${replay} ${rerun})`;
          stop();
          resolve(`an input took longer than ${String(INPUT_MS)} ms (a hang): ${which}`);
        }, Math.min(250, INPUT_MS));
        const onMessage = (m: WorkerMessage): void => {
          if ("run" in m) {
            runs = m.run;
            last = Date.now();
            return;
          }
          clearInterval(watchdog);
          detach();
          const f = m.failure;
          resolve(f === undefined ? undefined : `${f.report}\nreplay: ${replay}${f.path === undefined ? "" : ` MULTUS_TS_FUZZ_PATH=${f.path}`} ${rerun}`);
        };
        const onError = (err: Error): void => {
          stop();
          reject(new Error(`the fuzz worker of ${file} failed (seed ${String(SEED)}): ${err.message}`, { cause: err }));
        };
        const onExit = (code: number): void => {
          stop();
          reject(new Error(`the fuzz worker of ${file} exited (code ${String(code)}) during "${name}" (seed ${String(SEED)})`));
        };
        const onAbort = (): void => {
          stop();
          resolve(`timed out after ${String(runs)} run(s) (seed ${String(SEED)}; ${replay} ${rerun})`);
        };
        const detach = (): void => {
          w.off("message", onMessage);
          w.off("error", onError);
          w.off("exit", onExit);
          t.signal.removeEventListener("abort", onAbort);
        };
        /** Ends this property's run; the worker, possibly stuck, is replaced for the next property. */
        const stop = (): void => {
          clearInterval(watchdog);
          detach();
          if (worker === w) worker = undefined;
          void w.terminate().catch(() => undefined);
        };
        w.on("message", onMessage);
        w.on("error", onError);
        w.on("exit", onExit);
        t.signal.addEventListener("abort", onAbort, { once: true });
        w.postMessage(request);
      });
      if (outcome !== undefined) assert.fail(`${name}: ${outcome}`);
    });
  }
}

function serve(properties: Readonly<Record<string, FuzzSpec>>): void {
  const port = parentPort;
  if (port === null) return;
  port.on("message", (req: RunRequest) => {
    void (async () => {
      const spec = properties[req.name];
      let failure: Failure | undefined;
      if (spec === undefined) {
        failure = { report: `no property named ${JSON.stringify(req.name)}` };
      } else {
        mkdirSync(req.dir, { recursive: true });
        let run = 0;
        const onRun = (): void => {
          port.postMessage({ run: ++run } satisfies WorkerMessage);
        };
        try {
          failure = await spec.check({ dir: req.dir }, { seed: req.seed, numRuns: req.numRuns, onRun, ...(req.path === undefined ? {} : { path: req.path }) });
        } catch (err) {
          failure = { report: `the property itself threw: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}` };
        }
      }
      port.postMessage((failure === undefined ? { done: true } : { done: true, failure }) satisfies WorkerMessage);
    })();
  });
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

// ---- shared checks --------------------------------------------------------------------------------

/** Error classes that are a parser's bug, never its answer: what JavaScript itself throws. */
const BUILT_IN_ERRORS: readonly (new () => Error)[] = [TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError];

/** Whether `err` is one of the engine's own error types (TypeError, RangeError, …), i.e. a crash. */
export function isBuiltInError(err: unknown): boolean {
  return BUILT_IN_ERRORS.some((c) => err instanceof c);
}

/**
 * Calls `fn`; returns its value, or the error it threw after checking that it is `accept`ed (the
 * parser's documented error). Anything else is rethrown, so the property fails with it.
 */
export function outcomeOf<T>(fn: () => T, accept: (err: unknown) => boolean): { value: T } | { error: Error } {
  try {
    return { value: fn() };
  } catch (err) {
    if (accept(err) && err instanceof Error) return { error: err };
    throw err;
  }
}

/** outcomeOf for an async function. */
export async function asyncOutcomeOf<T>(fn: () => Promise<T>, accept: (err: unknown) => boolean): Promise<{ value: T } | { error: Error }> {
  try {
    return { value: await fn() };
  } catch (err) {
    if (accept(err) && err instanceof Error) return { error: err };
    throw err;
  }
}

/** A one-line, non-empty message (what the project's errors promise). */
export function assertOneLine(message: string): void {
  assert.ok(message.trim() !== "", "the error has a message");
  assert.ok(!/[\n\r]/.test(message), `the message is one line: ${JSON.stringify(message.slice(0, 300))}`);
}

/** The tree under `dir`: every entry's relative path, type, size and content (files) or target (links). */
export async function treeOf(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (rel: string): Promise<void> => {
    for (const name of (await readdir(join(dir, rel))).sort()) {
      const path = join(rel, name);
      const st = await lstat(join(dir, path));
      if (st.isDirectory()) {
        out.set(path, `dir mode ${st.mode.toString(8)}`);
        await walk(path);
      } else if (st.isSymbolicLink()) {
        out.set(path, `link ${await readlink(join(dir, path))}`);
      } else if (st.isFile()) {
        out.set(path, `file mode ${st.mode.toString(8)} size ${String(st.size)} ${(await readFile(join(dir, path))).toString("base64")}`);
      } else {
        out.set(path, `other mode ${st.mode.toString(8)}`);
      }
    }
  };
  await walk("");
  return out;
}

/** Asserts that `fn` (a read) leaves the tree under `dir` exactly as it was: names, sizes, contents. */
export async function assertReadOnly<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  const before = await treeOf(dir);
  const value = await fn();
  assert.deepEqual(await treeOf(dir), before, "a read must not change the directory");
  return value;
}

// ---- shared generators ----------------------------------------------------------------------------

/** A JSON value without -0 (which JSON text cannot keep), bounded in size. */
export function jsonValue(maxDepth = 3): fc.Arbitrary<unknown> {
  return fc.jsonValue({ maxDepth }).map((v) => JSON.parse(JSON.stringify(v)) as unknown);
}

/** One byte-level edit: cut the input, flip bits of a byte, insert bytes or delete some. */
export type ByteEdit =
  | { kind: "truncate"; at: number }
  | { kind: "flip"; at: number; bits: number }
  | { kind: "insert"; at: number; bytes: Uint8Array }
  | { kind: "delete"; at: number; count: number };

export const byteEdit: fc.Arbitrary<ByteEdit> = fc.oneof(
  fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }, { noNullPrototype: true }),
  fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), bits: fc.integer({ min: 1, max: 255 }) }, { noNullPrototype: true }),
  fc.record({ kind: fc.constant("insert" as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }, { noNullPrototype: true }),
  fc.record({ kind: fc.constant("delete" as const), at: fc.nat(), count: fc.integer({ min: 1, max: 16 }) }, { noNullPrototype: true }),
);

/** `bytes` with `edits` applied in turn (positions wrap around the current length). */
export function applyByteEdits(bytes: Uint8Array, edits: readonly ByteEdit[]): Uint8Array {
  let b = Buffer.from(bytes);
  for (const e of edits) {
    const at = e.at % (b.length + 1);
    if (e.kind === "truncate") b = b.subarray(0, at);
    else if (e.kind === "flip") {
      if (b.length > 0) {
        b = Buffer.from(b);
        const i = at % b.length;
        b[i] = (b[i] ?? 0) ^ e.bits;
      }
    } else if (e.kind === "insert") b = Buffer.concat([b.subarray(0, at), e.bytes, b.subarray(at)]);
    else b = Buffer.concat([b.subarray(0, at), b.subarray(at + e.count)]);
  }
  return new Uint8Array(b);
}

/** Mutations of a valid encoded input: one to four byte edits; bounded by its length plus 64. */
export function mutatedBytes(valid: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array> {
  return fc.tuple(valid, fc.array(byteEdit, { minLength: 1, maxLength: 4 })).map(([bytes, edits]) => applyByteEdits(bytes, edits));
}

/** One structural edit of a JSON document: `pick` walks down (each number picks a child), then `kind`. */
export interface JsonEdit {
  pick: number[];
  kind: "replace" | "delete" | "add";
  /** The value put in place (replace) or added (add). */
  value: unknown;
  /** The key an added property gets. */
  key: string;
}

/** Edits that replace a value with another type, delete a key or element, or add one. */
export const jsonEdit: fc.Arbitrary<JsonEdit> = fc.record(
  {
    pick: fc.array(fc.nat(), { minLength: 0, maxLength: 8 }),
    kind: fc.constantFrom("replace" as const, "delete" as const, "add" as const),
    value: jsonValue(2),
    key: fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom("index", "state", "kind", "source", "type", "__proto__", "constructor")),
  },
  { noNullPrototype: true },
);

/** Structural mutations of a JSON document (one to three edits); reaches every level of small documents. */
export function mutatedJson(valid: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> {
  return fc.tuple(valid, fc.array(jsonEdit, { minLength: 1, maxLength: 3 })).map(([doc, edits]) => edits.reduce(applyJsonEdit, structuredClone(doc)));
}

/** Applies `edit` to `root` (changed in place where it can be) and returns the document. */
export function applyJsonEdit(root: unknown, edit: JsonEdit): unknown {
  const { pick, kind, key } = edit;
  // A copy: an edit may be applied to several documents, and the document is changed in place.
  const value = structuredClone(edit.value);
  let parent: Record<string, unknown> | unknown[] | undefined;
  let slot: string | number | undefined;
  let node = root;
  for (const p of pick) {
    const children: [string | number, unknown][] = Array.isArray(node)
      ? node.map((v, i) => [i, v])
      : typeof node === "object" && node !== null
        ? Object.entries(node)
        : [];
    const child = children[p % Math.max(1, children.length)];
    if (child === undefined) break;
    parent = node as Record<string, unknown> | unknown[];
    [slot, node] = child;
  }
  // Properties are defined as JSON.parse makes them: own ones, also for "__proto__".
  const define = (obj: object, k: string, v: unknown): void => {
    Object.defineProperty(obj, k, { value: v, enumerable: true, writable: true, configurable: true });
  };
  if (kind === "add" && typeof node === "object" && node !== null) {
    if (Array.isArray(node)) node.push(value);
    else define(node, key, value);
    return root;
  }
  if (parent === undefined || slot === undefined) return kind === "delete" ? {} : value;
  if (Array.isArray(parent)) {
    if (kind === "delete") parent.splice(Number(slot), 1);
    else parent[Number(slot)] = value;
  } else if (kind === "delete") {
    Reflect.deleteProperty(parent, slot);
  } else {
    define(parent, String(slot), value);
  }
  return root;
}

/** Text mutations: the JSON text of a valid document, or of a mutated one, or mutated bytes of it. */
export function mutatedJsonText(valid: fc.Arbitrary<unknown>): fc.Arbitrary<string> {
  const text = valid.map((v) => JSON.stringify(v));
  return fc.oneof(
    mutatedJson(valid).map((v) => JSON.stringify(v)),
    mutatedBytes(text.map((t) => new Uint8Array(Buffer.from(t)))).map((b) => Buffer.from(b).toString("utf8")),
    text.chain((t) => fc.nat(t.length).map((n) => t.slice(0, n))),
  );
}
