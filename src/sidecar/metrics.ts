/**
 * Every metric the sidecar exports, declared in one place (SPEC 6). Own
 * registry, no default process metrics beyond what an operator needs.
 * Labels are fixed enums: never a bucket name, never a value from a Secret.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from "prom-client";

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "minio_sidecar_" });
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
