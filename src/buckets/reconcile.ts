/**
 * Bucket Service reconcile (SPEC 6): given the local MinIO's buckets
 * (minio/list-buckets.ts), make sure every bucket whose name can be a
 * Service has its ExternalName Service, exactly as the webhook would.
 * Orphans (our Services without a bucket) are reported, and deleted only
 * with --prune-bucket-services.
 *
 * Read first, write only what is missing: every MinIO pod of a Tenant runs
 * this round, so its cost is paid once per pod and bucket. One LIST of the
 * namespace's Services (kept to ours by ownerReference) says what exists;
 * a round whose Services are in sync makes that one request and no write
 * (creating blindly cost a POST per bucket and pod, answered 409 nearly
 * always). Under a Role without `list` on services (the MinIO Operator's own
 * per-Tenant Role: create/delete/get), the round falls back to one GET per
 * bucket, GET_CONCURRENCY at a time, and says it is degraded; the refused
 * LIST is asked once per process, not once per round. Orphans are then the
 * Services this process created or saw (a documented limitation).
 *
 * A 429 anywhere ends the round at once (RoundThrottled): the loop waits the
 * server's Retry-After and its backoff before the next round, instead of
 * pressing on with the remaining buckets against a server shedding load.
 */
import type { V1Service, V1ServiceList } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { describe } from "../errors.ts";
import { retryAfterOf, statusOf, type Kube } from "../kube/client.ts";
import { BucketServices, conflict, isValidBucketServiceName, reservedServiceNames, sameSpec, type Outcome, type Owner } from "./bucket-services.ts";

/**
 * GETs in flight at once in the no-`list` fallback: a handful keeps a round
 * of 100 buckets to seconds without a burst of 100 requests per pod.
 */
export const GET_CONCURRENCY = 4;

export interface ReconcileResult {
  buckets: number;
  created: string[];
  skippedNames: number;
  /** Buckets whose name is taken by a Service that is not ours (nothing to retry). */
  conflicts: string[];
  /** Buckets whose Service could not be made because the API failed (worth a retry). */
  failed: string[];
  orphans: string[];
  pruned: string[];
  /** Why the round could not read Services with one LIST (it used GETs); undefined when it did. */
  degraded?: string;
}

/** The API server answered 429 during the round: it stopped; retry after `retryAfterMs` at the earliest. */
export class RoundThrottled extends Error {
  override name = "RoundThrottled";
  constructor(
    readonly retryAfterMs: number,
    cause: string,
  ) {
    super(`API server throttling (429), round stopped: ${cause}`);
  }
}

const throttled = (err: unknown) => statusOf(err) === 429;

function stopIfThrottled(o: Outcome): void {
  if (o.status === 502 && throttled(o.cause)) throw new RoundThrottled(retryAfterOf(o.cause), o.message);
}

export class BucketReconciler {
  /** Bucket Services this process created or found (the orphan candidates when LIST is forbidden). */
  private readonly known = new Set<string>();
  /** Why the LIST of Services was refused (once per process); from then on GETs. */
  private listForbidden?: string;

  constructor(
    private readonly kube: Kube,
    private readonly services: BucketServices,
    private readonly owner: () => Owner | undefined,
    private readonly log: Logger,
    private readonly prune: boolean,
  ) {}

  remember(bucket: string, present: boolean) {
    if (present) this.known.add(bucket);
    else this.known.delete(bucket);
  }

  async run(buckets: string[]): Promise<ReconcileResult> {
    const result: ReconcileResult = { buckets: buckets.length, created: [], skippedNames: 0, conflicts: [], failed: [], orphans: [], pruned: [] };
    let valid = buckets.filter((b) => {
      if (!isValidBucketServiceName(b)) result.skippedNames++;
      return isValidBucketServiceName(b);
    });
    const owner = this.owner();
    if (!owner) {
      // Nothing can be owned before the Tenant is read: the round fails and is retried.
      result.failed.push(...valid);
      return result;
    }
    // Names the operator or Kubernetes use are never ours to make (SPEC 6): no request for them at all.
    const reserved = reservedServiceNames(owner.name);
    for (const b of valid.filter((n) => reserved.has(n))) {
      result.conflicts.push(b);
      this.log.warn({ bucket: b, status: 409 }, "bucket Service not reconciled: bucket name conflict: the name is one the MinIO Operator or Kubernetes uses in this namespace");
    }
    valid = valid.filter((n) => !reserved.has(n));
    const existing = await this.existing(valid, owner);
    result.degraded = existing.degraded;
    for (const bucket of valid) {
      const svc = existing.byName.get(bucket);
      let outcome: Outcome;
      if (svc && !this.services.isOurs(svc, owner)) outcome = conflict(bucket);
      else if (svc && sameSpec(svc, this.services.desired(bucket, owner))) outcome = { status: 200, result: "exists" };
      else if (svc) outcome = await this.services.bringInLine(bucket, svc, owner);
      else outcome = await this.services.ensure(bucket);
      stopIfThrottled(outcome);
      if (outcome.status === 200) {
        this.known.add(bucket);
        if (outcome.result === "created") result.created.push(bucket);
      } else {
        (outcome.status === 409 ? result.conflicts : result.failed).push(bucket);
        this.log.warn({ bucket, status: outcome.status }, `bucket Service not reconciled: ${outcome.message}`);
      }
    }
    const present = new Set(buckets);
    for (const name of existing.ours) {
      if (present.has(name)) continue;
      result.orphans.push(name);
      if (this.prune) {
        const outcome = await this.services.remove(name);
        stopIfThrottled(outcome);
        if (outcome.status === 200) {
          result.pruned.push(name);
          this.known.delete(name);
        }
      }
    }
    return result;
  }

  /**
   * The Services named after `buckets` that exist (ours or not), and the names of all our
   * bucket Services: one LIST, or, without `list`, GETs of the buckets and of what we know.
   */
  private async existing(buckets: string[], owner: Owner): Promise<{ byName: Map<string, V1Service>; ours: string[]; degraded?: string }> {
    if (!this.listForbidden) {
      try {
        const list = await this.kube.request<V1ServiceList>({ path: this.services.collection });
        const byName = new Map<string, V1Service>();
        for (const s of list.items ?? []) if (s.metadata?.name) byName.set(s.metadata.name, s);
        const ours = [...byName.values()].filter((s) => this.services.isOurs(s, owner)).map((s) => s.metadata!.name!);
        return { byName, ours };
      } catch (err) {
        if (throttled(err)) throw new RoundThrottled(retryAfterOf(err), describe(err));
        if (statusOf(err) !== 403) throw new Error(`listing bucket Services: ${describe(err)}`);
        // A Role without list (the MinIO Operator's per-Tenant Role): asked once per process, not
        // on every round (each refusal is a 403 in the cluster's audit log). A Role changed later
        // takes effect on the next pod start.
        this.listForbidden = `no list on services (${describe(err)}); reading Services one GET per bucket`;
        this.log.warn(`bucket reconcile degraded: ${this.listForbidden}`);
      }
    }
    const names = [...new Set([...buckets, ...this.known])];
    const byName = new Map<string, V1Service>();
    await eachLimited(names, GET_CONCURRENCY, async (name) => {
      try {
        byName.set(name, await this.services.read(name));
      } catch (err) {
        if (throttled(err)) throw new RoundThrottled(retryAfterOf(err), describe(err));
        if (statusOf(err) !== 404) throw new Error(`reading bucket Service ${name}: ${describe(err)}`);
        this.known.delete(name);
      }
    });
    const ours = [...this.known].filter((n) => {
      const s = byName.get(n);
      return s && this.services.isOurs(s, owner);
    });
    return { byName, ours, degraded: this.listForbidden };
  }
}

/** Runs `fn` over `items`, at most `limit` at a time; the first failure ends it (no new calls start) and is thrown. */
async function eachLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed: unknown;
  const worker = async () => {
    while (failed === undefined && next < items.length) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (err) {
        failed ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failed !== undefined) throw failed;
}
