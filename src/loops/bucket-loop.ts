/**
 * When bucket DNS is on: once MinIO answers, and then every 10 minutes ± 20 %
 * (drawn per round, so the pods of a Tenant, started together, drift apart
 * instead of reconciling in the same second for ever), reconcile bucket
 * Services against MinIO's bucket list (SPEC 6). A round stopped by a 429
 * waits the server's Retry-After and at least its backoff. A failed
 * run (ListBuckets refused or malformed, an API error, any bucket not
 * reconciled) is logged, counted as a failure and retried with backoff,
 * seconds up to a minute: MinIO answers its health check before S3 is ready,
 * so the first run often fails, and waiting the full period for the next one
 * would leave Services missing for 10 minutes. Failures never stop the sidecar.
 */
import type { Logger } from "pino";
import { rootCredentials } from "../config/merge.ts";
import { RoundThrottled, type BucketReconciler } from "../buckets/reconcile.ts";
import { checkReadiness, type MinioClient } from "../minio/client.ts";
import { listBuckets } from "../minio/list-buckets.ts";
import { Backoff, Loop, type BackoffPolicy } from "../retry.ts";
import type { ConfigController } from "./config-loop.ts";
import type { Metrics } from "../metrics.ts";

export interface BucketLoopTimings {
  /** Period between successful rounds, each drawn from intervalMs·(1 ± INTERVAL_JITTER). */
  intervalMs: number;
  /** How often to look for MinIO (or for bucketDNS being switched on) before the first run. */
  waitMs: number;
  /** Retry of a failed run. */
  retry: BackoffPolicy;
}

export const DEFAULT_BUCKET_LOOP_TIMINGS: BucketLoopTimings = {
  intervalMs: 10 * 60_000,
  waitMs: 5_000,
  retry: { baseMs: 2_000, capMs: 60_000 },
};

export interface BucketLoopOptions {
  controller: ConfigController;
  reconciler: BucketReconciler;
  minio: MinioClient;
  metrics: Metrics;
  log: Logger;
  timings?: Partial<BucketLoopTimings>;
}

export type RunOutcome = "skipped" | "success" | "failure";

/** ± 20 % (SPEC 6): wide enough that a Tenant's pods spread over minutes after a few rounds. */
const INTERVAL_JITTER = 0.2;

export class BucketLoop extends Loop {
  private readonly timings: BucketLoopTimings;
  private readonly failures: Backoff;
  /** /status's bucketReconcile. `degraded`: why Services were read with GETs instead of one LIST. */
  lastRun?: { at: string; ok: boolean; buckets?: number; created?: number; orphans?: number; error?: string; degraded?: string };
  /** The Retry-After of the 429 that stopped the last round (0: none). */
  private retryAfterMs = 0;

  constructor(private readonly o: BucketLoopOptions) {
    super();
    this.timings = { ...DEFAULT_BUCKET_LOOP_TIMINGS, ...o.timings };
    this.failures = new Backoff(this.timings.retry);
  }

  protected async run() {
    while (!this.stopped) {
      const outcome = await this.once();
      if (this.stopped) break;
      const period = this.timings.intervalMs * (1 + (2 * Math.random() - 1) * INTERVAL_JITTER);
      const delay = outcome === "success" ? period : outcome === "failure" ? this.failures.next(this.retryAfterMs) : this.timings.waitMs;
      if (outcome === "success") this.failures.reset();
      await this.sleeper.sleep(delay);
    }
  }

  /** One reconcile if bucket DNS is on and MinIO answers. */
  async once(): Promise<RunOutcome> {
    const { controller, reconciler, minio, metrics, log } = this.o;
    const config = controller.config;
    if (!config?.tenant.spec.features?.bucketDNS) return "skipped";
    if (!(await checkReadiness(minio)).ok) return "skipped";
    const creds = rootCredentials(config.env);
    if (!creds) return "skipped";
    this.retryAfterMs = 0;
    try {
      const r = await reconciler.run(await listBuckets(minio, creds));
      metrics.bucketServicesOrphaned.set(r.orphans.length - r.pruned.length);
      this.lastRun = { at: new Date().toISOString(), ok: r.failed.length === 0, buckets: r.buckets, created: r.created.length, orphans: r.orphans.length };
      if (r.degraded) this.lastRun.degraded = r.degraded;
      if (r.failed.length) {
        // Some buckets have no Service yet: a failure to retry soon, not a success to wait 10 minutes on.
        this.lastRun.error = `${r.failed.length} of ${r.buckets} bucket Services not reconciled`;
        metrics.reconcileRuns.inc({ result: "failure" });
        log.warn({ ...r }, `bucket Service reconcile incomplete (retrying): ${this.lastRun.error}`);
        return "failure";
      }
      metrics.reconcileRuns.inc({ result: "success" });
      const level = r.created.length || r.orphans.length ? "info" : "debug";
      log[level]({ ...r }, "bucket Services reconciled");
      return "success";
    } catch (err) {
      metrics.reconcileRuns.inc({ result: "failure" });
      const error = err instanceof Error ? (err.message.split("\n")[0] ?? err.name) : String(err);
      if (err instanceof RoundThrottled) this.retryAfterMs = err.retryAfterMs;
      this.lastRun = { at: new Date().toISOString(), ok: false, error };
      log.warn(`bucket Service reconcile failed (retrying): ${error}`);
      return "failure";
    }
  }
}
