/**
 * Every metric the sidecar exports, declared in one place (SPEC 6). Own
 * registry. Labels are fixed enums: never a bucket name, never a value from
 * a Secret.
 *
 * prom-client is imported by module file (registry, counter, gauge), not
 * through its index: the index also evaluates the Pushgateway (node:http,
 * https, zlib, url), the cluster aggregator (node:cluster), histograms and
 * summaries (tdigest, bintrees) and the default metrics (perf_hooks, v8),
 * none of which the sidecar uses. Measured in compiled probes that create
 * these metrics next to node:http/https (as the sidecar did then):
 * +9.0 MiB idle RSS and +7.5 ms start-up through the index with the default
 * metrics, +2.7 MiB and +1.6 ms this way.
 *
 * Process metrics: the few that are true under Bun and Deno, named as the
 * Prometheus client libraries name them (with our prefix), computed on
 * scrape. prom-client's collectDefaultMetrics is not used: its nodejs_*
 * metrics are V8's (heap spaces, GC, event-loop lag from perf_hooks) and
 * mean nothing or are stubs under Bun's JavaScriptCore, and its
 * process_heap_bytes is VmData, the address space Bun reserves (6.4 GB
 * reported for a 90 MiB process), not a heap.
 */
import { readdirSync, readFileSync } from "node:fs";
import Counter from "prom-client/lib/counter.js";
import Gauge from "prom-client/lib/gauge.js";
import Registry from "prom-client/lib/registry.js";

const PREFIX = "minio_sidecar_";

export function createMetrics() {
  const registry = new Registry();
  processMetrics(registry);
  const m = {
    registry,
    configWrites: new Counter({ name: "minio_sidecar_config_writes_total", help: "Config file writes (content changed)", registers: [registry] }),
    configErrors: new Counter({
      name: "minio_sidecar_config_errors_total",
      help: "Config generations or writes that failed (invalid Tenant/Secret, write error)",
      labelNames: ["reason"] as const,
      registers: [registry],
    }),
    configValid: new Gauge({ name: "minio_sidecar_config_valid", help: "1 when the current Tenant and Secret give a valid config, else 0", registers: [registry] }),
    watchRestarts: new Counter({
      name: "minio_sidecar_watch_restarts_total",
      help: "Watch restarts after a failure or 410 Gone",
      labelNames: ["kind"] as const,
      registers: [registry],
    }),
    webhookRequests: new Counter({
      name: "minio_sidecar_webhook_requests_total",
      help: "Bucket DNS webhook requests by result",
      labelNames: ["operation", "result"] as const,
      registers: [registry],
    }),
    probeResults: new Counter({
      name: "minio_sidecar_readiness_probe_total",
      help: "Readiness probe results (MinIO answered or not)",
      labelNames: ["result"] as const,
      registers: [registry],
    }),
    bucketServicesOrphaned: new Gauge({
      name: "minio_sidecar_bucket_services_orphaned",
      help: "Bucket Services owned by this Tenant whose bucket no longer exists (last reconcile)",
      registers: [registry],
    }),
    reconcileRuns: new Counter({
      name: "minio_sidecar_bucket_reconcile_total",
      help: "Bucket Service reconcile runs by result",
      labelNames: ["result"] as const,
      registers: [registry],
    }),
  };
  m.configValid.set(0);
  return m;
}

export type Metrics = ReturnType<typeof createMetrics>;

/** CPU seconds, resident memory, start time and file descriptors of this process. */
function processMetrics(registry: Registry) {
  const registers = [registry];
  const cpu = () => process.cpuUsage();
  const cpuCounters: Array<[name: string, help: string, seconds: (c: NodeJS.CpuUsage) => number]> = [
    ["process_cpu_user_seconds_total", "User CPU time spent in seconds", (c) => c.user / 1e6],
    ["process_cpu_system_seconds_total", "System CPU time spent in seconds", (c) => c.system / 1e6],
    ["process_cpu_seconds_total", "Total user and system CPU time spent in seconds", (c) => (c.user + c.system) / 1e6],
  ];
  for (const [name, help, seconds] of cpuCounters) {
    new Counter({
      name: `${PREFIX}${name}`,
      help,
      registers,
      collect() {
        this.reset();
        this.inc(seconds(cpu()));
      },
    });
  }
  new Gauge({
    name: `${PREFIX}process_resident_memory_bytes`,
    help: "Resident memory size in bytes",
    registers,
    collect() {
      this.set(process.memoryUsage.rss());
    },
  });
  new Gauge({
    name: `${PREFIX}process_start_time_seconds`,
    help: "Start time of the process since unix epoch in seconds",
    registers,
  }).set(Math.round(Date.now() / 1000 - process.uptime()));
  // Linux only (/proc), like the Prometheus clients; absent elsewhere rather than wrong.
  if (!readable("/proc/self/fd")) return;
  new Gauge({
    name: `${PREFIX}process_open_fds`,
    help: "Number of open file descriptors",
    registers,
    collect() {
      // readdir holds one descriptor of its own while it reads.
      this.set(readdirSync("/proc/self/fd").length - 1);
    },
  });
  const max = /^Max open files\s+(\d+)/m.exec(readFileSync("/proc/self/limits", "utf8"))?.[1];
  if (max) new Gauge({ name: `${PREFIX}process_max_fds`, help: "Maximum number of open file descriptors", registers }).set(Number(max));
}

function readable(dir: string): boolean {
  try {
    readdirSync(dir);
    return true;
  } catch {
    return false;
  }
}
