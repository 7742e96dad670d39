/**
 * Bucket Service reconcile (SPEC 6): given the local MinIO's buckets
 * (minio/list-buckets.ts), make sure every bucket
 * whose name can be a Service has its ExternalName Service, exactly as the
 * webhook would. Orphans (our Services without a bucket) are reported, and
 * deleted only with --prune-bucket-services.
 *
 * Finding orphans needs to enumerate our Services. SPEC 4's Role grants
 * services get/create/update/delete but not list, so we try a LIST by our
 * label and, when that is forbidden, fall back to the Services this process
 * has created or seen (a documented limitation, not an error).
 */
import type { V1ServiceList } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { describe } from "../errors.ts";
import { statusOf, type Kube } from "../kube/client.ts";
import { BucketServices, isValidBucketServiceName, MANAGED_BY, TENANT_LABEL, type Owner } from "./bucket-services.ts";

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
}

export class BucketReconciler {
  /** Bucket Services this process created or found (the fallback when LIST is forbidden). */
  private readonly known = new Set<string>();

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
    for (const bucket of buckets) {
      if (!isValidBucketServiceName(bucket)) {
        result.skippedNames++;
        continue;
      }
      const outcome = await this.services.ensure(bucket);
      if (outcome.status === 200) {
        this.known.add(bucket);
        if (outcome.result === "created") result.created.push(bucket);
      } else {
        (outcome.status === 409 ? result.conflicts : result.failed).push(bucket);
        this.log.warn({ bucket, status: outcome.status }, `bucket Service not reconciled: ${outcome.message}`);
      }
    }
    const present = new Set(buckets);
    for (const name of await this.ourServices()) {
      if (present.has(name)) continue;
      result.orphans.push(name);
      if (this.prune) {
        const outcome = await this.services.remove(name);
        if (outcome.status === 200) {
          result.pruned.push(name);
          this.known.delete(name);
        }
      }
    }
    return result;
  }

  private async ourServices(): Promise<string[]> {
    const owner = this.owner();
    if (!owner) return [];
    try {
      const list = await this.kube.request<V1ServiceList>({
        path: this.services.collection,
        query: { labelSelector: `app.kubernetes.io/managed-by=${MANAGED_BY["app.kubernetes.io/managed-by"]},${TENANT_LABEL}=${owner.name}` },
      });
      return (list.items ?? [])
        .filter((s) => this.services.isOurs(s, owner))
        .map((s) => s.metadata?.name ?? "")
        .filter(Boolean);
    } catch (err) {
      if (statusOf(err) !== 403) throw new Error(`listing bucket Services: ${describe(err)}`);
      const stillOurs = await Promise.all(
        [...this.known].map(async (name) => {
          const svc = await this.services.read(name).catch(() => undefined);
          if (!svc) this.known.delete(name);
          return svc && this.services.isOurs(svc, owner) ? name : undefined;
        }),
      );
      return stillOurs.filter((n): n is string => !!n);
    }
  }
}
