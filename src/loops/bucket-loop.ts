/**
 * When bucket DNS is on: once MinIO answers, and then every 10 minutes,
 * reconcile bucket Services against MinIO's bucket list (SPEC 6). A failed
 * run (ListBuckets refused or malformed, an API error, any bucket not
 * reconciled) is logged, counted as a failure and retried with backoff,
 * seconds up to a minute: MinIO answers its health check before S3 is ready,
 * so the first run often fails, and waiting the full period for the next one
 * would leave Services missing for 10 minutes. Failures never stop the sidecar.
 */
import type { Logger } from "pino";
import { rootCredentials } from "../config/merge.ts";
import type { BucketReconciler } from "../buckets/reconcile.ts";
import { checkReadiness, type MinioClient } from "../minio/client.ts";
import { listBuckets } from "../minio/list-buckets.ts";
import { Backoff, Loop, type BackoffPolicy } from "../retry.ts";
import type { ConfigController } from "./config-loop.ts";
import type { Metrics } from "../metrics.ts";

export interface BucketLoopTimings {
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

export class BucketLoop extends Loop {
  private readonly timings: BucketLoopTimings;
  private readonly failures: Backoff;
  lastRun?: { at: string; ok: boolean; buckets?: number; created?: number; orphans?: number; error?: string };

  constructor(private readonly o: BucketLoopOptions) {
    super();
    this.timings = { ...DEFAULT_BUCKET_LOOP_TIMINGS, ...o.timings };
    this.failures = new Backoff(this.timings.retry);
  }

  protected async run() {
    while (!this.stopped) {
      const outcome = await this.once();
      if (this.stopped) break;
      const delay = outcome === "success" ? this.timings.intervalMs : outcome === "failure" ? this.failures.next() : this.timings.waitMs;
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
    try {
      const r = await reconciler.run(await listBuckets(minio, creds));
      metrics.bucketServicesOrphaned.set(r.orphans.length - r.pruned.length);
      this.lastRun = { at: new Date().toISOString(), ok: r.failed.length === 0, buckets: r.buckets, created: r.created.length, orphans: r.orphans.length };
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
      this.lastRun = { at: new Date().toISOString(), ok: false, error };
      log.warn(`bucket Service reconcile failed (retrying): ${error}`);
      return "failure";
    }
  }
}
