// prom-client's metric classes, imported one by one: the package's index also loads
// collectDefaultMetrics, the Pushgateway and the cluster aggregator, which add ≈ 18 MiB of RSS to a
// daemon that needs none of them (measured: `node -e "require('prom-client')"` 64 MiB against 46 MiB
// for these four). The process metrics the daemon exports are its own (metrics.ts).
import Counter from "prom-client/lib/counter.js";
import Gauge from "prom-client/lib/gauge.js";
import Histogram from "prom-client/lib/histogram.js";
import Registry from "prom-client/lib/registry.js";

export { Counter, Gauge, Histogram, Registry };
