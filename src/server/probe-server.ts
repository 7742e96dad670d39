/**
 * Probe server (SPEC 6): /ready (is MinIO answering), /healthz (are the
 * watch loops making progress), /status (what the sidecar knows, no secret values),
 * /metrics (Prometheus). These are polled constantly, so they log at debug.
 */
import { Elysia } from "elysia";
import type { Logger } from "pino";
import type { Readiness } from "../minio/client.ts";
import type { Metrics } from "../metrics.ts";
import { guard } from "./guard.ts";

export interface ProbeDeps {
  readiness: () => Promise<Readiness>;
  alive: () => boolean;
  status: () => Record<string, unknown>;
  metrics: Metrics;
  log: Logger;
}

export function probeApp(d: ProbeDeps) {
  return new Elysia({ name: "probe" })
    .use(guard)
    // Before the routes (Elysia applies local hooks to later routes only); debug: probes are constant traffic.
    .onAfterResponse(({ request, set }) => d.log.debug({ method: request.method, path: new URL(request.url).pathname, status: set.status }, "probe request"))
    .get("/ready", async ({ set }) => {
      const r = await d.readiness();
      d.metrics.probeResults.inc({ result: r.ok ? "success" : "failure" });
      if (r.ok) return `Readiness probe succeeded with HTTP status ${r.status}`;
      d.log.debug({ reason: r.reason }, "readiness probe failed");
      set.status = 500;
      return r.reason;
    })
    .get("/healthz", ({ set }) => {
      if (d.alive()) return "ok";
      // 503: a watch loop stopped making progress (or the sidecar is shutting down); a liveness probe restarts it.
      set.status = 503;
      return "sidecar loop stalled";
    })
    .get("/status", () => d.status())
    .get("/metrics", async ({ set }) => {
      set.headers["content-type"] = d.metrics.registry.contentType;
      return d.metrics.registry.metrics();
    });
}