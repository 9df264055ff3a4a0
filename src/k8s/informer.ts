// A list+watch cache of one collection (this node's pods, all NetworkAttachmentDefinitions), so
// the daemon's CNI ADD path reads objects from memory instead of asking the API server.
//
// Exported API:
//   class Informer<T>(options: InformerOptions<T>)
//     start() / stop(): Promise<void>          — the background loop; stop() aborts it and resolves when it ended
//     waitForSync(timeoutMs): Promise<boolean> — true once the first list is in the store
//     get(namespace, name) / list() / size     — reads of the store (cluster-scoped objects: namespace "")
//     stalenessMs() / fresh()                  — how recently the API showed signs of life
//     on(listener): () => void                 — ADDED / MODIFIED / DELETED after the store changed
//     stats                                    — lists, relistsAfterGone, watchRestarts, errors, lastError
//     restartWatch(fromResourceVersion?)       — ends the current watch (tests and diagnostics)
//   informerKey(namespace, name): string       — the store's key: `namespace/name`, or `name` if cluster-scoped
//   interface InformerOptions<T>, InformerEvent<T>, InformerStats, type InformerEventType
//
// The design is client-go's reflector, cut down to one collection and one loop
// (https://kubernetes.io/docs/reference/using-api/api-concepts/#efficient-detection-of-changes):
//   1. LIST without resourceVersion — a consistent read, so the store never goes back in time —
//      in pages of `limit` objects following `continue`. A continue token pins the snapshot; when
//      etcd compacted it away the API answers 410 Expired and the list starts over
//      (#retrieving-large-results-sets-in-chunks). The store is replaced in one assignment; objects
//      gone since the previous list are reported DELETED, new or changed ones ADDED / MODIFIED.
//   2. WATCH from the list's resourceVersion (treated as opaque: only passed back, never compared).
//      ADDED/MODIFIED upsert, DELETED removes; BOOKMARK events (allowWatchBookmarks, #watch-bookmarks)
//      carry no object, only a newer resourceVersion, so a restarted watch does not replay history.
//   3. The server ends a watch after its timeoutSeconds: watch again from the last resourceVersion.
//      410 Gone (the version fell out of the API's history window, #410-gone-responses): relist.
//      Connection errors, KubeWatchIdleError and a watch that ends at once without an event (a
//      proxy closing every stream): back off (250 ms doubling to 30 s, jittered), watch again.
//   4. A watchdog restarts a watch that delivered neither an event nor a bookmark for staleAfterMs.
//      The API promises no bookmark interval, but kube-apiserver's watch cache sends one about every
//      minute, so a longer silence means a dead connection that TCP has not noticed. fresh() is
//      false meanwhile: callers then fall back to a live GET.
// Only transform()'s output (plus each object's resourceVersion, to tell a changed object from an
// unchanged one on relist) is kept. Nothing thrown inside the loop escapes it: errors are logged
// with the informer's name and counted in stats.
import { setTimeout as sleep } from "node:timers/promises";
import { isRecord } from "../cni/is-record.ts";
import type { Logger } from "../util/logger.ts";
import { isGone } from "./kube-api-error.ts";
import type { KubeClient, WatchEvent } from "./kube-client.ts";
import { backoffDelayMs } from "./retry-policy.ts";
import type { RetryOptions } from "./retry-policy.ts";

export interface InformerOptions<T> {
  client: KubeClient;
  /** Collection path, e.g. "/api/v1/pods" or "/apis/k8s.cni.cncf.io/v1/network-attachment-definitions". */
  path: string;
  fieldSelector?: string;
  labelSelector?: string;
  /** Strip a raw object to what the caller needs (memory): called once per object; a throw logs and skips the object. */
  transform: (raw: unknown) => T;
  log: Logger;
  /** Name used in logs/metrics, e.g. "pods". */
  name: string;
  /** List page size (default 500). */
  pageSize?: number;
  /** No event and no bookmark for this long → the watch is restarted. Default 150 000 ms. */
  staleAfterMs?: number;
  /** Jitter source of the backoff between failed list/watch attempts. */
  random?: () => number;
}

export type InformerEventType = "ADDED" | "MODIFIED" | "DELETED";

export interface InformerEvent<T> {
  type: InformerEventType;
  /** `namespace/name`, or `name` for a cluster-scoped object (client-go's MetaNamespaceKeyFunc). */
  key: string;
  /** For DELETED: the last version the store held. */
  object: T;
}

export interface InformerStats {
  /** Completed lists (the first one included). */
  lists: number;
  /** Lists caused by a watch failing with 410 Gone. */
  relistsAfterGone: number;
  /** Watches started again from the last resourceVersion (server timeout, stale, failure). */
  watchRestarts: number;
  /** Failed list or watch attempts. */
  errors: number;
  lastError?: string;
}

interface Entry<T> {
  object: T;
  resourceVersion: string;
}

const BACKOFF: RetryOptions = { attempts: Infinity, baseDelayMs: 250, maxDelayMs: 30_000 };
/** A list that keeps losing its continue token is retried later, with backoff, not in a tight loop. */
const LIST_RESTARTS = 3;
const SHORT_WATCH_MS = 1_000;
const STALE = "stale";
const RESTART = "restart";

export function informerKey(namespace: string, name: string): string {
  return namespace === "" ? name : `${namespace}/${name}`;
}

export class Informer<T> {
  readonly #opts: InformerOptions<T>;
  readonly #pageSize: number;
  readonly #staleAfterMs: number;
  readonly #random: () => number;
  readonly #stop = new AbortController();
  readonly #listeners = new Set<(e: InformerEvent<T>) => void>();
  readonly #syncWaiters = new Set<(synced: boolean) => void>();
  #store = new Map<string, Entry<T>>();
  #stats: InformerStats = { lists: 0, relistsAfterGone: 0, watchRestarts: 0, errors: 0 };
  /** undefined: the next step is a list. */
  #resourceVersion: string | undefined;
  #synced = false;
  #lastLifeAt: number | undefined;
  #failures = 0;
  #watch: AbortController | undefined;
  #loop: Promise<void> | undefined;

  constructor(opts: InformerOptions<T>) {
    this.#opts = opts;
    this.#pageSize = opts.pageSize ?? 500;
    this.#staleAfterMs = opts.staleAfterMs ?? 150_000;
    this.#random = opts.random ?? Math.random;
  }

  /** Runs the list+watch loop in the background until stop(). A second call does nothing. */
  start(): void {
    if (this.#loop !== undefined || this.#stop.signal.aborted) return;
    this.#loop = this.#run().catch((err: unknown) => {
      // #run catches everything itself; this is the last line of defence against a bug.
      this.#opts.log.error({ informer: this.#opts.name, error: errorText(err) }, "informer loop failed");
    });
  }

  /** Aborts the list/watch/backoff in progress; resolves when the loop has ended. */
  async stop(): Promise<void> {
    this.#stop.abort();
    this.#watch?.abort();
    for (const resolve of this.#syncWaiters) resolve(this.#synced);
    this.#syncWaiters.clear();
    await this.#loop;
  }

  /** True once the first list completed; false if that takes longer than timeoutMs (or stop() came first). */
  waitForSync(timeoutMs: number): Promise<boolean> {
    if (this.#synced || this.#stop.signal.aborted) return Promise.resolve(this.#synced);
    return new Promise((resolve) => {
      const done = (synced: boolean): void => {
        clearTimeout(timer);
        this.#syncWaiters.delete(done);
        resolve(synced);
      };
      const timer = setTimeout(() => {
        done(false);
      }, timeoutMs);
      this.#syncWaiters.add(done);
    });
  }

  get synced(): boolean {
    return this.#synced;
  }

  get(namespace: string, name: string): T | undefined {
    return this.#store.get(informerKey(namespace, name))?.object;
  }

  list(): T[] {
    return Array.from(this.#store.values(), (e) => e.object);
  }

  get size(): number {
    return this.#store.size;
  }

  get stats(): Readonly<InformerStats> {
    return { ...this.#stats };
  }

  /** ms since the last sign of life from the API (list done, event, bookmark); Infinity before the first list. */
  stalenessMs(): number {
    return this.#lastLifeAt === undefined ? Infinity : performance.now() - this.#lastLifeAt;
  }

  /** Synced, running and heard from the API within staleAfterMs. */
  fresh(): boolean {
    return this.#synced && !this.#stop.signal.aborted && this.stalenessMs() <= this.#staleAfterMs;
  }

  /** Called after the store changed; returns the unsubscribe function. A throwing listener is logged. */
  on(listener: (e: InformerEvent<T>) => void): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  /**
   * Ends the current watch and watches again from `fromResourceVersion` (default: the last one).
   * For tests and diagnostics: an ancient version ("1") makes the API answer 410, hence a relist.
   */
  restartWatch(fromResourceVersion?: string): void {
    if (fromResourceVersion !== undefined) this.#resourceVersion = fromResourceVersion;
    this.#watch?.abort(RESTART);
  }

  async #run(): Promise<void> {
    const signal = this.#stop.signal;
    while (!this.#stopped()) {
      try {
        if (this.#resourceVersion === undefined) await this.#list();
        else await this.#watchOnce(this.#resourceVersion);
      } catch (err) {
        if (this.#stopped()) break;
        this.#failures++;
        this.#stats.errors++;
        this.#stats.lastError = errorText(err);
        const delayMs = backoffDelayMs(BACKOFF, this.#failures, this.#random);
        this.#opts.log.warn({ informer: this.#opts.name, error: this.#stats.lastError, failures: this.#failures, delayMs }, "informer list/watch failed; backing off");
        await sleep(delayMs, undefined, { signal }).catch(() => undefined);
      }
    }
  }

  async #list(): Promise<void> {
    const { client, path, fieldSelector, labelSelector, name } = this.#opts;
    for (let attempt = 1; ; attempt++) {
      try {
        const list = await client.list(path, {
          limit: this.#pageSize,
          ...(fieldSelector === undefined ? {} : { fieldSelector }),
          ...(labelSelector === undefined ? {} : { labelSelector }),
          signal: this.#stop.signal,
        });
        this.#replace(list.items);
        this.#resourceVersion = list.resourceVersion;
        this.#stats.lists++;
        this.#alive();
        this.#opts.log.info({ informer: name, objects: this.#store.size, resourceVersion: list.resourceVersion }, "informer listed");
        if (!this.#synced) {
          this.#synced = true;
          for (const resolve of this.#syncWaiters) resolve(true);
          this.#syncWaiters.clear();
        }
        return;
      } catch (err) {
        // 410 on a later page: the continue token's snapshot was compacted. Start over.
        if (!isGone(err) || attempt >= LIST_RESTARTS || this.#stopped()) throw err;
        this.#opts.log.info({ informer: name, error: errorText(err) }, "informer list continue token expired; listing again");
      }
    }
  }

  async #watchOnce(from: string): Promise<void> {
    const { client, path, fieldSelector, labelSelector, name } = this.#opts;
    const watch = new AbortController();
    this.#watch = watch;
    if (this.#stopped()) watch.abort();
    const watchdog = setTimeout(() => {
      watch.abort(STALE);
    }, this.#staleAfterMs);
    const startedAt = performance.now();
    let events = 0;
    try {
      const stream = client.watch(path, {
        resourceVersion: from,
        ...(fieldSelector === undefined ? {} : { fieldSelector }),
        ...(labelSelector === undefined ? {} : { labelSelector }),
        signal: watch.signal,
        // The watchdog decides about silence (it also covers the wait for the headers); the
        // client's own idle timeout stays behind it as a backstop.
        idleTimeoutMs: 2 * this.#staleAfterMs,
      });
      for await (const event of stream) {
        events++;
        watchdog.refresh();
        this.#alive();
        this.#apply(event);
      }
    } catch (err) {
      if (!isGone(err)) throw err;
      this.#resourceVersion = undefined;
      this.#stats.relistsAfterGone++;
      this.#opts.log.info({ informer: name, resourceVersion: from, error: errorText(err) }, "informer watch expired (410); relisting");
      return;
    } finally {
      clearTimeout(watchdog);
      this.#watch = undefined;
    }
    // The iteration ended normally: the server's timeoutSeconds, our watchdog or restartWatch().
    if (this.#stopped()) return;
    const reason: unknown = watch.signal.reason;
    // client-go's "very short watch": something that ends every watch at once must not make us
    // reconnect in a tight loop; as an error it gets the backoff.
    if (!watch.signal.aborted && events === 0 && performance.now() - startedAt < SHORT_WATCH_MS) {
      throw new Error(`the watch from resourceVersion ${from} ended at once without an event`);
    }
    this.#stats.watchRestarts++;
    if (reason === STALE) this.#opts.log.warn({ informer: name, staleAfterMs: this.#staleAfterMs }, "informer watch silent; restarting it");
    else this.#opts.log.debug({ informer: name, reason: typeof reason === "string" ? reason : "server" }, "informer watch ended; watching again");
  }

  /** A method, not `signal.aborted` inline: TypeScript would narrow that across awaits. */
  #stopped(): boolean {
    return this.#stop.signal.aborted;
  }

  #alive(): void {
    this.#lastLifeAt = performance.now();
    this.#failures = 0;
  }

  #apply(event: WatchEvent<unknown>): void {
    if (event.resourceVersion !== "") this.#resourceVersion = event.resourceVersion;
    if (event.type === "BOOKMARK") return;
    const id = this.#identify(event.object);
    if (id === undefined) return;
    const old = this.#store.get(id.key);
    if (event.type === "DELETED") {
      if (old === undefined) return;
      this.#store.delete(id.key);
      this.#emit({ type: "DELETED", key: id.key, object: old.object });
      return;
    }
    const entry = this.#transform(event.object, id);
    if (entry === undefined) {
      // Keeping the previous version would serve an object older than the API's; drop it.
      if (old === undefined) return;
      this.#store.delete(id.key);
      this.#emit({ type: "DELETED", key: id.key, object: old.object });
      return;
    }
    this.#store.set(id.key, entry);
    this.#emit({ type: old === undefined ? "ADDED" : "MODIFIED", key: id.key, object: entry.object });
  }

  #replace(items: unknown[]): void {
    const previous = this.#store;
    const next = new Map<string, Entry<T>>();
    const changes: InformerEvent<T>[] = [];
    for (const raw of items) {
      const id = this.#identify(raw);
      if (id === undefined) continue;
      const old = previous.get(id.key);
      // An unchanged object (same resourceVersion) keeps its entry: no transform, no event.
      if (old !== undefined && old.resourceVersion === id.resourceVersion && id.resourceVersion !== "") {
        next.set(id.key, old);
        continue;
      }
      const entry = this.#transform(raw, id);
      if (entry === undefined) continue;
      next.set(id.key, entry);
      changes.push({ type: old === undefined ? "ADDED" : "MODIFIED", key: id.key, object: entry.object });
    }
    for (const [key, old] of previous) if (!next.has(key)) changes.push({ type: "DELETED", key, object: old.object });
    this.#store = next;
    for (const change of changes) this.#emit(change);
  }

  #identify(raw: unknown): { key: string; resourceVersion: string } | undefined {
    const meta = isRecord(raw) && isRecord(raw["metadata"]) ? raw["metadata"] : undefined;
    const name = meta?.["name"];
    const namespace = meta?.["namespace"] ?? "";
    if (typeof name !== "string" || name === "" || typeof namespace !== "string") {
      this.#opts.log.warn({ informer: this.#opts.name }, "informer skipped an object without metadata.name");
      return undefined;
    }
    const resourceVersion = typeof meta?.["resourceVersion"] === "string" ? meta["resourceVersion"] : "";
    return { key: informerKey(namespace, name), resourceVersion };
  }

  #transform(raw: unknown, id: { key: string; resourceVersion: string }): Entry<T> | undefined {
    try {
      return { object: this.#opts.transform(raw), resourceVersion: id.resourceVersion };
    } catch (err) {
      this.#opts.log.warn({ informer: this.#opts.name, key: id.key, error: errorText(err) }, "informer skipped an object its transform rejected");
      return undefined;
    }
  }

  #emit(event: InformerEvent<T>): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (err) {
        this.#opts.log.error({ informer: this.#opts.name, key: event.key, error: errorText(err) }, "informer listener threw");
      }
    }
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
