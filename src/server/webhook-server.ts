/**
 * Bucket DNS webhook (SPEC 6): MinIO calls it when a bucket is created or
 * deleted. 200 is success, 409 "bucket name conflict", and a body containing
 * "invalid bucket name" makes MinIO reject the name.
 */
import { Elysia } from "elysia";
import type { Logger } from "pino";
import { isValidBucketServiceName, type BucketServices, type Outcome } from "../buckets/bucket-services.ts";
import type { Metrics } from "../metrics.ts";
import { guard } from "./guard.ts";

export const WEBHOOK_PATH = "/webhook/v1/bucketsrv/:namespace/:name";

export interface WebhookDeps {
  namespace: string;
  tenant: string;
  services: BucketServices;
  /** Told of every Service this webhook created or deleted (the reconciler's memory). */
  onChange?: (bucket: string, present: boolean) => void;
  metrics: Metrics;
  log: Logger;
}

export interface WebhookRequest {
  namespace: string;
  name: string;
  bucket?: string;
  delete?: string;
  /** `bucket` or `delete` was given more than once. */
  repeated?: boolean;
}

export interface WebhookAnswer {
  status: number;
  body: string;
  result: string;
}

/**
 * The path exactly, segments decoded: Elysia's router also matches a trailing
 * `/`, which SPEC 6 makes a 404. (Bun resolves `.` and `..` segments before
 * any handler sees the URL, so those cannot be told apart here.)
 */
const EXACT_PATH = /^\/webhook\/v1\/bucketsrv\/([^/]+)\/([^/]+)$/;

interface Target {
  namespace: string;
  name: string;
  query: URLSearchParams;
}

/** The request target of a webhook call, or undefined when its path is not exactly ours (404). */
function webhookTarget(url: string): Target | undefined {
  const pathStart = url.indexOf("/", url.indexOf("://") + 3);
  const target = pathStart < 0 ? "/" : url.slice(pathStart);
  const q = target.indexOf("?");
  const m = EXACT_PATH.exec(q < 0 ? target : target.slice(0, q));
  if (!m) return undefined;
  try {
    return { namespace: decodeURIComponent(m[1]!), name: decodeURIComponent(m[2]!), query: new URLSearchParams(q < 0 ? "" : target.slice(q + 1)) };
  } catch {
    return undefined; // a malformed %-escape names nothing
  }
}

/** The webhook's decision table, without HTTP. */
export async function handleBucketRequest(d: WebhookDeps, r: WebhookRequest): Promise<WebhookAnswer> {
  if (r.namespace !== d.namespace || r.name !== d.tenant) {
    return { status: 403, result: "forbidden", body: `this sidecar serves tenant ${d.namespace}/${d.tenant} only\n` };
  }
  // Last-wins would turn `delete=true&delete=false` into a create: a repeated parameter is refused instead.
  if (r.repeated) return { status: 400, result: "bad-request", body: "bucket and delete may each be given once\n" };
  if (!isValidBucketServiceName(r.bucket)) {
    return { status: 400, result: "invalid-name", body: "invalid bucket name: must be a DNS-1035 label (lowercase letters, digits and '-', starting with a letter, at most 63 characters, no '.')\n" };
  }
  // MinIO sends `delete=true` or `delete=false` (Go's %t); anything else is not a request we understand.
  if (r.delete !== undefined && r.delete !== "true" && r.delete !== "false") {
    return { status: 400, result: "bad-request", body: "delete must be true or false\n" };
  }
  const del = r.delete === "true";

  const outcome: Outcome = del ? await d.services.remove(r.bucket) : await d.services.ensure(r.bucket);
  if (outcome.status === 200) {
    d.onChange?.(r.bucket, !del);
    return { status: 200, result: outcome.result, body: `${outcome.result}\n` };
  }
  return { status: outcome.status, result: outcome.result, body: `${outcome.message}\n` };
}

export function webhookApp(d: WebhookDeps) {
  return new Elysia({ name: "webhook" })
    .use(guard)
    .onError(({ code, set }) => {
      if (code === "NOT_FOUND") {
        set.status = 404;
        return "not found\n";
      }
    })
    .post(WEBHOOK_PATH, async ({ request, set }) => {
      const target = webhookTarget(request.url);
      if (!target) {
        set.status = 404;
        return "not found\n";
      }
      const [bucket, ...moreBuckets] = target.query.getAll("bucket");
      const [del, ...moreDeletes] = target.query.getAll("delete");
      const op = del === "true" ? "delete" : "create";
      const repeated = moreBuckets.length > 0 || moreDeletes.length > 0;
      const answer = await handleBucketRequest(d, { namespace: target.namespace, name: target.name, bucket, delete: del, repeated });
      d.metrics.webhookRequests.inc({ operation: op, result: answer.result });
      const level = answer.status >= 500 ? "error" : answer.status === 200 ? "info" : "warn";
      d.log[level]({ operation: op, bucket: bucket?.slice(0, 64), status: answer.status }, `bucket webhook: ${answer.result}`);
      set.status = answer.status;
      return answer.body;
    })
    .all(WEBHOOK_PATH, ({ request, set }) => {
      if (!webhookTarget(request.url)) {
        set.status = 404;
        return "not found\n";
      }
      set.status = 405;
      set.headers.allow = "POST";
      return "method not allowed\n";
    });
}
