/**
 * Bucket Service reconcile (SPEC 6): list the local MinIO's buckets (S3
 * ListBuckets signed with SigV4 by aws4fetch) and make sure every bucket
 * whose name can be a Service has its ExternalName Service, exactly as the
 * webhook would. Orphans (our Services without a bucket) are reported, and
 * deleted only with --prune-bucket-services.
 *
 * Finding orphans needs to enumerate our Services. SPEC 4's Role grants
 * services get/create/update/delete but not list, so we try a LIST by our
 * label and, when that is forbidden, fall back to the Services this process
 * has created or seen (a documented limitation, not an error).
 */
import { AwsClient } from "aws4fetch";
import type { Logger } from "pino";
import { describeKubeError, statusOf, type Kube } from "../kube/client.ts";
import type { MinioClient } from "../probe/minio-client.ts";
import { BucketServices, isValidBucketServiceName, MANAGED_BY, TENANT_LABEL, type Owner } from "./bucket-services.ts";

export interface ReconcileResult {
  buckets: number;
  created: string[];
  skippedNames: number;
  orphans: string[];
  pruned: string[];
}

/** Bucket names from a ListBuckets XML answer. */
export function parseListBuckets(xml: string): string[] {
  const buckets = xml.match(/<Buckets>([\s\S]*?)<\/Buckets>/)?.[1] ?? "";
  return [...buckets.matchAll(/<Name>([^<]*)<\/Name>/g)].map((m) => decodeXml(m[1] ?? ""));
}

const decodeXml = (s: string) =>
  s.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, "&");

export async function listBuckets(minio: MinioClient, creds: { accessKeyId: string; secretAccessKey: string }): Promise<string[]> {
  const signer = new AwsClient({ ...creds, service: "s3", region: "us-east-1" });
  const signed = await signer.sign(minio.url("/").toString(), { method: "GET" });
  const headers: Record<string, string> = {};
  signed.headers.forEach((v, k) => (headers[k] = v));
  const res = await minio.request("/", { method: "GET", headers, timeoutMs: 10_000, maxBody: 16 << 20 });
  if (res.status !== 200) {
    const code = res.body.match(/<Code>([^<]*)<\/Code>/)?.[1];
    throw new Error(`ListBuckets answered HTTP ${res.status}${code ? ` (${code})` : ""}`);
  }
  return parseListBuckets(res.body);
}

export class BucketReconciler {
  /** Bucket Services this process created or found (the fallback when LIST is forbidden). */
  private readonly known = new Set<string>();

  constructor(
    private readonly kube: Kube,
    private readonly namespace: string,
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
    const result: ReconcileResult = { buckets: buckets.length, created: [], skippedNames: 0, orphans: [], pruned: [] };
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
      const list = await this.kube.core.listNamespacedService({
        namespace: this.namespace,
        labelSelector: `app.kubernetes.io/managed-by=${MANAGED_BY["app.kubernetes.io/managed-by"]},${TENANT_LABEL}=${owner.name}`,
      });
      return list.items
        .filter((s) => this.services.isOurs(s, owner))
        .map((s) => s.metadata?.name ?? "")
        .filter(Boolean);
    } catch (err) {
      if (statusOf(err) !== 403) throw new Error(`listing bucket Services: ${describeKubeError(err)}`);
      const stillOurs = await Promise.all(
        [...this.known].map(async (name) => {
          const svc = await this.kube.core.readNamespacedService({ namespace: this.namespace, name }).catch(() => undefined);
          if (!svc) this.known.delete(name);
          return svc && this.services.isOurs(svc, owner) ? name : undefined;
        }),
      );
      return stillOurs.filter((n): n is string => !!n);
    }
  }
}
