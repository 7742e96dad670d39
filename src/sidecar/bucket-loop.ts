/**
 * When bucket DNS is on: once MinIO answers, and then every 10 minutes,
 * reconcile bucket Services against MinIO's bucket list. Failures are
 * logged and retried on the next tick; they never stop the sidecar.
 */
import type { Logger } from "pino";
import { rootCredentials } from "../config/merge.ts";
import { listBuckets, type BucketReconciler } from "../buckets/reconcile.ts";
import { Sleeper } from "../kube/backoff.ts";
import type { MinioClient } from "../probe/minio-client.ts";
import { checkReadiness } from "../probe/readiness.ts";
import type { ConfigController } from "./controller.ts";
import type { Metrics } from "./metrics.ts";

export interface BucketLoopOptions {
  controller: ConfigController;
  reconciler: BucketReconciler;
  minio: MinioClient;
  metrics: Metrics;
  log: Logger;
  intervalMs?: number;
  /** How often to look for MinIO (or for bucketDNS being switched on) before the first run. */
  waitMs?: number;
}

export class BucketLoop {
  private stopped = false;
  private readonly sleeper = new Sleeper();
  private loop?: Promise<void>;
  lastRun?: { at: string; ok: boolean; buckets?: number; created?: number; orphans?: number; error?: string };

  constructor(private readonly o: BucketLoopOptions) {}

  start(): this {
    this.loop ??= this.run();
    return this;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.sleeper.wake();
    await this.loop;
  }

  private async run() {
    const { intervalMs = 10 * 60_000, waitMs = 5_000 } = this.o;
    while (!this.stopped) {
      const ran = await this.once();
      // stop() during once() woke no sleeper: do not start the 10-minute sleep then.
      if (this.stopped) break;
      await this.sleeper.sleep(ran ? intervalMs : waitMs);
    }
  }

  /** One reconcile if bucket DNS is on and MinIO answers; returns whether it ran. */
  async once(): Promise<boolean> {
    const { controller, reconciler, minio, metrics, log } = this.o;
    const config = controller.config;
    if (!config?.tenant.spec.features?.bucketDNS) return false;
    if (!(await checkReadiness(minio)).ok) return false;
    const creds = rootCredentials(config.env);
    if (!creds) return false;
    try {
      const r = await reconciler.run(await listBuckets(minio, creds));
      metrics.reconcileRuns.inc({ result: "success" });
      metrics.bucketServicesOrphaned.set(r.orphans.length - r.pruned.length);
      this.lastRun = { at: new Date().toISOString(), ok: true, buckets: r.buckets, created: r.created.length, orphans: r.orphans.length };
      const level = r.created.length || r.orphans.length ? "info" : "debug";
      log[level]({ ...r }, "bucket Services reconciled");
    } catch (err) {
      metrics.reconcileRuns.inc({ result: "failure" });
      const error = err instanceof Error ? err.message.split("\n")[0] : String(err);
      this.lastRun = { at: new Date().toISOString(), ok: false, error };
      log.warn(`bucket Service reconcile failed (retrying later): ${error}`);
    }
    return true;
  }
}
