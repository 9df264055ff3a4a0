// The daemon's Prometheus metrics (prom-client, one registry per daemon). Upstream has one counter,
// multus_server_request_total{handler,code,method}; it is kept with the same labels so existing
// dashboards work. Ours add what an operator needs to see where time goes and what fails:
//   multus_requests_total{command,result}                 result: success | error | refused
//   multus_request_duration_seconds{command}              the whole request, queue wait included
//   multus_phase_duration_seconds{command,phase}          readiness, client, api, plan, lock, delegates, route, status
//   multus_cni_plugin_execution_total{plugin,command,result} and
//   multus_cni_plugin_execution_duration_seconds{plugin,command}   per delegate call, by its main plugin type
//     (`plugin` is a type only when an executable of that name is in the plugin directories, at most
//     PLUGIN_LABELS_MAX of them, else "other": a NAD's `type` is a tenant's string, and a label per
//     random type would grow the daemon without bound)
//   multus_requests_in_flight, multus_requests_queued
//   multus_informer_staleness_seconds{informer}, multus_informer_objects{informer}
//   multus_journal_entries                                sandboxes with a journal on disk
//   multus_cni_config_writes_total                         00-multus.conf(list) (re)written
//   multus_api_live_reads_total{kind,reason}              reads the caches could not answer (a miss, a stale cache, another UID)
//   process_resident_memory_bytes, process_heap_bytes, process_cpu_seconds_total, process_start_time_seconds
// (prom-client's names; its collectDefaultMetrics is not loaded: prom.ts says why).
import { readdirSync } from "node:fs";
import { join } from "node:path";
import type { Counter as CounterT, Histogram as HistogramT } from "prom-client";
import { Counter, Gauge, Histogram, Registry } from "./prom.ts";

/** Distinct plugin types that get a label of their own; beyond them, "other". */
export const PLUGIN_LABELS_MAX = 64;

/**
 * The `plugin` label of a delegate call: its type when the node has that plugin (the administrator's
 * plugin directories are a bounded set), else "other". Bounded by PLUGIN_LABELS_MAX either way.
 */
export class PluginLabels {
  readonly #known = new Set<string>();
  readonly #exists: (type: string, dirs: readonly string[]) => boolean;

  constructor(exists: (type: string, dirs: readonly string[]) => boolean) {
    this.#exists = exists;
  }

  label(type: string, dirs: readonly string[]): string {
    if (this.#known.has(type)) return type;
    if (this.#known.size >= PLUGIN_LABELS_MAX || !this.#exists(type, dirs)) return "other";
    this.#known.add(type);
    return type;
  }
}

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

export interface MetricsSources {
  running: () => number;
  queued: () => number;
  informers: () => { name: string; stalenessSeconds: number; objects: number }[];
  cniDir: () => string;
}

export class DaemonMetrics {
  readonly registry = new Registry();
  readonly serverRequests: CounterT<"handler" | "code" | "method">;
  readonly requests: CounterT<"command" | "result">;
  readonly requestDuration: HistogramT<"command">;
  readonly phaseDuration: HistogramT<"command" | "phase">;
  readonly pluginExecutions: CounterT<"plugin" | "command" | "result">;
  readonly pluginDuration: HistogramT<"plugin" | "command">;
  readonly configWrites: CounterT;
  readonly liveReads: CounterT<"kind" | "reason">;

  constructor(sources: MetricsSources) {
    const registers = [this.registry];
    const started = Date.now() / 1000;
    new Gauge({
      name: "process_resident_memory_bytes",
      help: "Resident memory size in bytes.",
      registers,
      collect() {
        this.set(process.memoryUsage.rss());
      },
    });
    new Gauge({
      name: "process_heap_bytes",
      help: "V8 heap in use, in bytes.",
      registers,
      collect() {
        this.set(process.memoryUsage().heapUsed);
      },
    });
    new Gauge({
      name: "process_cpu_seconds_total",
      help: "User and system CPU time spent, in seconds.",
      registers,
      collect() {
        const u = process.cpuUsage();
        this.set((u.user + u.system) / 1e6);
      },
    });
    new Gauge({
      name: "process_start_time_seconds",
      help: "Start time of the process since the Unix epoch, in seconds.",
      registers,
      collect() {
        this.set(started);
      },
    });
    this.serverRequests = new Counter({
      name: "multus_server_request_total",
      help: "Requests to the multus-daemon socket (upstream's counter).",
      labelNames: ["handler", "code", "method"],
      registers,
    });
    this.requests = new Counter({ name: "multus_requests_total", help: "CNI requests by command and result.", labelNames: ["command", "result"], registers });
    this.requestDuration = new Histogram({
      name: "multus_request_duration_seconds",
      help: "CNI request latency, queue wait included.",
      labelNames: ["command"],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.phaseDuration = new Histogram({
      name: "multus_phase_duration_seconds",
      help: "Time spent in each phase of a CNI request.",
      labelNames: ["command", "phase"],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.pluginExecutions = new Counter({
      name: "multus_cni_plugin_execution_total",
      help: "Delegate executions by main plugin type, command and result.",
      labelNames: ["plugin", "command", "result"],
      registers,
    });
    this.pluginDuration = new Histogram({
      name: "multus_cni_plugin_execution_duration_seconds",
      help: "Delegate execution time by main plugin type and command.",
      labelNames: ["plugin", "command"],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.configWrites = new Counter({ name: "multus_cni_config_writes_total", help: "Times the Multus CNI config file was (re)written.", registers });
    this.liveReads = new Counter({
      name: "multus_api_live_reads_total",
      help: "Reads the informer caches could not answer, by kind (pod, nad) and reason (missing, stale, uid).",
      labelNames: ["kind", "reason"],
      registers,
    });
    new Gauge({
      name: "multus_requests_in_flight",
      help: "CNI requests executing now.",
      registers,
      collect() {
        this.set(sources.running());
      },
    });
    new Gauge({
      name: "multus_requests_queued",
      help: "CNI requests waiting for a slot.",
      registers,
      collect() {
        this.set(sources.queued());
      },
    });
    new Gauge({
      name: "multus_informer_staleness_seconds",
      help: "Seconds since the informer last heard from the API (event, bookmark or list).",
      labelNames: ["informer"],
      registers,
      collect() {
        for (const i of sources.informers()) this.set({ informer: i.name }, Number.isFinite(i.stalenessSeconds) ? i.stalenessSeconds : -1);
      },
    });
    new Gauge({
      name: "multus_informer_objects",
      help: "Objects in the informer's cache.",
      labelNames: ["informer"],
      registers,
      collect() {
        for (const i of sources.informers()) this.set({ informer: i.name }, i.objects);
      },
    });
    new Gauge({
      name: "multus_journal_entries",
      help: "Sandboxes with an attachment journal on disk.",
      registers,
      collect() {
        try {
          this.set(readdirSync(join(sources.cniDir(), "attachments")).filter((n) => n.endsWith(".json")).length);
        } catch {
          this.set(0);
        }
      },
    });
  }
}
