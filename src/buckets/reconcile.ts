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
import type { V1ServiceList } from "@kubernetes/client-node";
import { AwsClient } from "aws4fetch";
import type { Logger } from "pino";
import { describeKubeError, statusOf, type Kube } from "../kube/client.ts";
import type { MinioClient } from "../probe/minio-client.ts";
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

/**
 * Bucket names from a ListBuckets answer, which must be a complete
 * `ListAllMyBucketsResult` document (SPEC 6). Anything else (a proxy's HTML
 * page, an empty or cut-off body) throws: with --prune-bucket-services an
 * answer misread as "no buckets" would delete every bucket Service. The
 * shape S3 and MinIO send is fixed and small, so it is checked strictly here
 * rather than with a general XML parser: one root element, closed; one
 * Buckets element; every Bucket with exactly one Name.
 */
export function parseListBuckets(xml: string): string[] {
  const doc = /^\s*(?:<\?xml[^>]*\?>\s*)?<ListAllMyBucketsResult(?:\s[^>]*)?>([\s\S]*)<\/ListAllMyBucketsResult>\s*$/.exec(xml);
  if (!doc) throw new Error("ListBuckets answer is not a complete ListAllMyBucketsResult document");
  const body = doc[1] ?? "";
  const lists = [...body.matchAll(/<Buckets\s*\/>|<Buckets>([\s\S]*?)<\/Buckets>/g)];
  if (lists.length !== 1) throw new Error(`ListBuckets answer has ${lists.length} Buckets elements, expected 1`);
  const entries = [...(lists[0]![1] ?? "").matchAll(/<Bucket>([\s\S]*?)<\/Bucket>/g)];
  const opened = (lists[0]![1] ?? "").match(/<Bucket>/g)?.length ?? 0;
  if (opened !== entries.length) throw new Error("ListBuckets answer has an unclosed Bucket element");
  return entries.map((e) => {
    const names = [...(e[1] ?? "").matchAll(/<Name>([^<]*)<\/Name>/g)];
    if (names.length !== 1) throw new Error("ListBuckets answer has a Bucket without exactly one Name");
    return decodeXml(names[0]![1] ?? "");
  });
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
      if (statusOf(err) !== 403) throw new Error(`listing bucket Services: ${describeKubeError(err)}`);
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
