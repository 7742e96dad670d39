/**
 * S3 ListBuckets against the local MinIO (`GET /`, signed with AWS
 * Signature V4 by aws4fetch using the root credentials of the current
 * config, sent only where MinioClient.credentialed allows), for the bucket
 * Service reconcile.
 */
import { AwsClient } from "aws4fetch";
import type { MinioClient } from "./client.ts";

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
  const sign = async (url: URL) => {
    const signed = await signer.sign(url.toString(), { method: "GET" });
    const headers: Record<string, string> = {};
    signed.headers.forEach((v, k) => (headers[k] = v));
    return headers;
  };
  const res = await minio.credentialed("/", sign, { method: "GET", timeoutMs: 10_000, maxBody: 16 << 20 });
  if (res.status !== 200) {
    const code = res.body.match(/<Code>([^<]*)<\/Code>/)?.[1];
    throw new Error(`ListBuckets answered HTTP ${res.status}${code ? ` (${code})` : ""}`);
  }
  return parseListBuckets(res.body);
}
